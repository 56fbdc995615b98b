"""The settings, read from the environment once, at import (twelve-factor)."""

import os

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("QUEUE", "links:pending")
DATABASE_PATH = os.environ.get("DATABASE_PATH", "var/links.db")
PORT = int(os.environ.get("PORT", "8000"))
