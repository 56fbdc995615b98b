"""Links submitted over HTTP, checked by a worker through a Redis queue."""
