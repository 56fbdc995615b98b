"""The release phase: create the schema (again: it is idempotent)."""

import contextlib
import os

from linkqueue import db, settings


def main() -> None:
    os.makedirs(os.path.dirname(settings.DATABASE_PATH) or ".", exist_ok=True)
    with contextlib.closing(db.connect()) as connection, connection:
        connection.execute(db.SCHEMA)
    print(f"release: migrated {settings.DATABASE_PATH}", flush=True)


if __name__ == "__main__":
    main()
