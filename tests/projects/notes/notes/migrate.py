"""Create the schema (idempotent)."""

import contextlib
import os

from notes import db


def main() -> None:
    os.makedirs(os.path.dirname(db.path()) or ".", exist_ok=True)
    with contextlib.closing(db.connect()) as connection, connection:
        connection.execute(db.SCHEMA)
    print(f"migrate: schema ready in {db.path()}", flush=True)


if __name__ == "__main__":
    main()
