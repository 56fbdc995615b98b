"""The version of launcher: one place, read by the package build and every `--version`."""

__version__ = "0.1.0"
