"""Model manager: reading checkpoint files safely, telling what they are, and where they live.

Nothing here builds a pipeline; `backend` asks this package what a file is and how to read it.
"""
