"""What runs inside a child process, in the project's interpreter: the shared host, its router,
the task runner, a task's readiness call, and the tagged output they write.

Standard library (and uvicorn, for apps) only, Python 3.9 and later: nothing here imports the
rest of launcher, and the modules import each other relatively, so that the same files run as
`launcher.child` where launcher is installed and as `launcher_child` from the directory the
launcher puts on the import path of a project's own interpreter (launcher/plan/childside.py).
"""

# This package's name in the children that the launcher starts in the project's interpreter.
PACKAGE = "launcher_child"
