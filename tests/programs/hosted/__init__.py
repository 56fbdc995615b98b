"""Apps and tasks for the tests of shared mode (and of multi mode, with the same assertions).

Each writes what happens to it, one line per event, to the file $EVENTS, and names the pid
of the process it runs in, so a test can tell one host process from one process each.
"""
