"""The control plane of a running stack: the HTTP API server, its guards and views, OpenAPI,
Prometheus metrics, and the stdlib client the CLI uses.
"""
