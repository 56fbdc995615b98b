"""The library: `launcher.load(...).start()` in a `with` block, the test doubles of the
runtime's seams, and the pytest plugin.
"""
