"""What every layer shares: the vocabulary, the probe kinds, error codes, diagnostics, the error
tree, secret masking.

The lowest layer: it imports nothing else of launcher.
"""
