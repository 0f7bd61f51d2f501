"""The local HTTP service: one schema, token + Host checks, a SQLite job store and one GPU worker thread.

Nothing imported at start-up pulls torch/diffusers; the worker imports the engine on its first job.
"""
