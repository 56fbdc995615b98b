"""The plan: a validated configuration compiled into final process specs.

Graph order, profiles and selection, ports, modes (shared mode and `--debug` as plan
transformations), and the Procfile rendering. The runtime consumes a plan and never rewrites it.
"""
