"""Background work for the views: every call to the service runs off the GUI thread, results come back as signals.

Two shapes of work:
- `run_task(owner, fn, on_done, on_error)`: one blocking call (list models, submit, download ...) in a daemon
  thread; `on_done(result)` or `on_error(exc)` then runs on the GUI thread.
- `JobFollower`: a job's Server-Sent Events, read in a daemon thread, re-emitted as Qt signals.

Daemon threads rather than a `QThreadPool`: a call blocked on a dead socket must never keep the app from
quitting, and the interpreter does not wait for daemon threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot

from backend.client import ApiError, Client, Job, JobEvent

# Relays waiting for their thread to finish. A relay is not parented to its owner (a deleted owner would take
# the relay's C++ object with it while the thread may still emit), so it is kept alive here until delivery.
_pending: set[_Relay] = set()


class _Relay(QObject):
    """Lives on the GUI thread; a signal emitted from the worker thread is queued to it (a cross-thread emit)."""

    succeeded = Signal(object)
    raised = Signal(object)

    def __init__(self, owner: QObject, on_done: Callable[[Any], None] | None,
                 on_error: Callable[[BaseException], None] | None) -> None:
        super().__init__()
        self._owner, self._on_done, self._on_error = owner, on_done, on_error
        self.succeeded.connect(self._deliver_result)
        self.raised.connect(self._deliver_error)

    @Slot(object)
    def _deliver_result(self, result: Any) -> None:
        _pending.discard(self)
        if self._on_done is not None and shiboken6.isValid(self._owner):  # the view may be gone meanwhile
            self._on_done(result)

    @Slot(object)
    def _deliver_error(self, exc: BaseException) -> None:
        _pending.discard(self)
        if self._on_error is not None and shiboken6.isValid(self._owner):
            self._on_error(exc)


def run_task(owner: QObject, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[BaseException], None] | None = None, name: str = "task") -> None:
    """Run `fn()` in a daemon thread; call `on_done(result)` or `on_error(exc)` on the GUI thread.

    Must be called on the GUI thread (the relay is created there, which is what makes the delivery queued).
    Nothing is delivered if `owner` was deleted in between.
    """
    relay = _Relay(owner, on_done, on_error)
    _pending.add(relay)

    def work() -> None:
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the view that asked
            relay.raised.emit(exc)
        else:
            relay.succeeded.emit(result)

    threading.Thread(target=work, name=f"desktop-{name}", daemon=True).start()


def pending_tasks() -> int:
    """How many `run_task` results are not delivered yet (tests wait for 0)."""
    return len(_pending)


def describe_error(exc: BaseException) -> str:
    """The sentence to show for a failure: the service's own message (it names field, value and what is accepted)."""
    if isinstance(exc, ApiError):
        return f"{exc.message} [{exc.code}]" if exc.message else f"HTTP {exc.status} [{exc.code}]"
    if isinstance(exc, ConnectionRefusedError):
        return "the backend does not answer (connection refused); is it still running?"
    if isinstance(exc, TimeoutError):
        return "the backend did not answer in time"
    return str(exc) or type(exc).__name__


class JobFollower(QObject):
    """Follows one job's events in a daemon thread until its terminal event.

    Public signals, always emitted on the GUI thread (connect anything to them): `event(JobEvent)` for each
    event, then `ended(Job)` with the final job, or `lost(str)` if the stream broke (the backend died or the
    connection dropped).
    """

    event = Signal(object)
    ended = Signal(object)
    lost = Signal(str)
    # Emitted from the reading thread; received by this object's slots on the GUI thread (queued), which
    # re-emit the public signals there, so subscribers never run on the reading thread.
    _raw_event = Signal(object)
    _raw_ended = Signal(object)
    _raw_lost = Signal(str)

    def __init__(self, client: Client, job_id: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client, self.job_id = client, job_id
        self._stop = threading.Event()
        self._raw_event.connect(self._on_raw_event)
        self._raw_ended.connect(self._on_raw_ended)
        self._raw_lost.connect(self._on_raw_lost)
        self._thread = threading.Thread(target=self._follow, name=f"desktop-follow-{job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop delivering (the thread exits at the next event; the HTTP read has its own timeout)."""
        self._stop.set()

    @Slot(object)
    def _on_raw_event(self, event: JobEvent) -> None:
        if not self._stop.is_set():
            self.event.emit(event)

    @Slot(object)
    def _on_raw_ended(self, job: Job) -> None:
        if not self._stop.is_set():
            self.ended.emit(job)

    @Slot(str)
    def _on_raw_lost(self, reason: str) -> None:
        if not self._stop.is_set():
            self.lost.emit(reason)

    def _emit(self, signal: Any, value: Any) -> bool:
        if self._stop.is_set() or not shiboken6.isValid(self):
            return False
        try:
            signal.emit(value)
        except RuntimeError:  # deleted between the check and the emit: the window is closing
            return False
        return True

    def _follow(self) -> None:
        try:
            for event in self.client.events(self.job_id):
                if not self._emit(self._raw_event, event):
                    return
            job: Job = self.client.job(self.job_id)
        except Exception as exc:  # noqa: BLE001 - shown to the user as the stream's end
            self._emit(self._raw_lost, describe_error(exc))
            return
        self._emit(self._raw_ended, job)
