"""What runs inside a child process, in the project's interpreter: the shared host, its router,
the task runner, a task's readiness call, and the tagged output they write.

Standard library (and uvicorn, for apps) only: nothing here imports the rest of launcher.
"""
