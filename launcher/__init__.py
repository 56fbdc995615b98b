"""launcher: bring a Python backend's whole stack up in dependency order, keep it running,
take it down cleanly.

Nothing heavy is imported here: `launcher --version` and the quick commands must stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
