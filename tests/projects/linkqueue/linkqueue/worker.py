"""The worker: takes link ids off the Redis queue and checks the links."""

from __future__ import annotations

import contextlib
import signal
from urllib.parse import urlsplit

from linkqueue import db, settings
from linkqueue.redisclient import Redis

stopping = False


def stop(*_: object) -> None:
    global stopping
    stopping = True


def check(link_id: int) -> None:
    with contextlib.closing(db.connect()) as connection, connection:
        (url,) = connection.execute("SELECT url FROM links WHERE id = ?", (link_id,)).fetchone()
        host = urlsplit(url).hostname
        connection.execute("UPDATE links SET status = 'checked', host = ? WHERE id = ?", (host, link_id))
    print(f"worker: checked link {link_id} ({url})", flush=True)


def main() -> None:
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # The queue may start beside the worker: wait for it, as workers of a real deployment do.
    queue = Redis.connect(settings.REDIS_URL, wait=30)
    print(f"worker: waiting for links on {settings.REDIS_URL} ({settings.QUEUE})", flush=True)
    while not stopping:
        try:
            taken = queue.command("BRPOP", settings.QUEUE, "1")
        except ConnectionError:
            if stopping:  # the queue stopped with us
                break
            raise
        if isinstance(taken, list):
            check(int(str(taken[1])))
    queue.close()


if __name__ == "__main__":
    main()
