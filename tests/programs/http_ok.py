"""An HTTP server on 127.0.0.1: /health answers 200 "ok", every other path 404.

    http_ok.py [--port N] [--delay S] [--health-status CODE] [--unhealthy-for S]

Listens on --port, else $PORT, after --delay seconds (default 0); prints
"listening on 127.0.0.1:PORT" once it accepts connections. /health answers --health-status
(default 200), or 503 during the first --unhealthy-for seconds after listening. Requests are
logged on stderr. Exits 0 on SIGTERM.
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--health-status", type=int, default=200)
    parser.add_argument("--unhealthy-for", type=float, default=0.0)
    args = parser.parse_args()
    port = args.port if args.port is not None else int(os.environ["PORT"])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(args.delay)
    healthy_at = time.monotonic() + args.unhealthy_for

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/health":
                status, body = 404, b"not found\n"
            elif time.monotonic() < healthy_at:
                status, body = 503, b"starting\n"
            else:
                status, body = args.health_status, b"ok\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
