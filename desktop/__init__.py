"""The PySide6 desktop app: generate, watch, queue and manage models against the local service.

Nothing in this package imports torch: it talks to the backend process only through `backend.client`.
Qt is imported only when the app runs (`desktop.app`), never when the CLI parses its arguments.
"""
