"""A small notes API."""
