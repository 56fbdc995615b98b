"""The runtime: runs a plan. Processes and their output, probes, the state machine, the
supervisor of one service, the orchestrator of the stack, run state and leftovers, hot reload.

`launcher.child` is what runs inside the children, in the project's interpreter.
"""
