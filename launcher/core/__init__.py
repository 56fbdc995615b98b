"""What every layer shares: the vocabulary, error codes, diagnostics, the error tree, secret masking.

The lowest layer: it imports nothing else of launcher.
"""
