"""The example projects (tests/integration/test_example_projects.py runs each in a copy of its
own): their own test suites run against their stacks there, never as part of this one."""

collect_ignore_glob = ["*"]
