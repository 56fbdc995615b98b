"""The settings, read from the environment once, when this module is imported."""

import os

# Without the variable: the development database (what `launcher run` also gives).
DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///var/dev.db")
