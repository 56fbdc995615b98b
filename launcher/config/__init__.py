"""Configuration: files -> one validated model, with diagnostics that name file and line.

Sources (TOML with line numbers, Procfiles, env files), layering, the pydantic model, validation,
interpolation, the whole-stack checks, the JSON Schema and `init` scaffolds. No process I/O.
"""
