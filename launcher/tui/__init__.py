"""`launcher attach` and `launcher run --tui`: a live dashboard of a running stack in the
terminal, a client of its control API (docs/api.md), built on textual.

    source.py    what the dashboard reads from a stack and asks of it (the API, or a fake)
    logstore.py  the lines it keeps: a fixed number per service, filtered and searched
    look.py      the colours of `run`'s output, as textual styles
    widgets.py   the services table, the log view, the dependency tree, the events
    app.py       the app: layout, keys, and the tasks that follow the stack

The only package that imports textual; the commands import it once they run (the quick
commands' budgets, tests/integration/test_quick_commands.py).
"""
