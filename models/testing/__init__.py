"""Builders of tiny SD-shaped models in every on-disk format users have, for tests and CPU benchmarks.

They use the real classes and the real CLIP tokenizer, so the whole loading code path runs in seconds.
"""
