"""InfiniteScribe, the demo backend of launcher: an API gateway over SQLite and two agents."""
