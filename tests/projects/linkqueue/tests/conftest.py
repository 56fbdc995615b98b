import os

import pytest


@pytest.fixture(scope="session")
def web_url() -> str:
    """Where `web` serves: the processes run (`launcher run -- python -m pytest`)."""
    return os.environ["WEB_URL"]
