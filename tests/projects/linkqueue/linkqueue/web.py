"""The HTTP side, on $PORT: `POST /links` queues a link (its body is the URL), `GET /links/ID`
says how it is, `GET /health` answers ok."""

from __future__ import annotations

import contextlib
import http.server
import json
import signal
import sys

from linkqueue import db, settings
from linkqueue.redisclient import Redis


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"status": "ok"})
            return
        prefix, _, link_id = self.path.rpartition("/")
        if prefix != "/links" or not link_id.isdigit():
            self._send(404, {"error": "not found"})
            return
        with contextlib.closing(db.connect()) as connection:
            row = connection.execute("SELECT * FROM links WHERE id = ?", (int(link_id),)).fetchone()
        if row is None:
            self._send(404, {"error": "no such link"})
        else:
            self._send(200, dict(row))

    def do_POST(self) -> None:
        if self.path != "/links":
            self._send(404, {"error": "not found"})
            return
        url = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode().strip()
        with contextlib.closing(db.connect()) as connection, connection:
            link_id = connection.execute("INSERT INTO links (url) VALUES (?)", (url,)).lastrowid
        queue = Redis.connect(settings.REDIS_URL)
        try:
            queue.command("LPUSH", settings.QUEUE, str(link_id))
        finally:
            queue.close()
        self._send(201, {"id": link_id, "status": "queued"})

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", settings.PORT), Handler)
    print(f"web: serving on http://127.0.0.1:{settings.PORT}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
