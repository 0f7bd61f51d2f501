"""Work off Blender's main thread: network calls run in threads, their results are applied by a timer.

Blender's data may only be touched from the main thread, and a blocking HTTP call there freezes the UI.
So every network call runs in a `threading.Thread`; the thread hands what it learnt back as a callable
(`call_on_main`), and `drain()` (registered with `bpy.app.timers`) runs those callables on the main thread.

`drain()` is a plain function on purpose: `bpy.app.timers` never fire in the `bpy` module (no event
loop), so tests call it themselves until it returns None, exactly as Blender's timer loop would.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable

import bpy

POLL_INTERVAL = 0.1  # seconds between drains while work is under way: a progress bar needs no more
STOP_TIMEOUT = 5.0  # how long unregister waits for threads (each notices `stop` within about a second)

_inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_threads: dict[threading.Thread, threading.Event] = {}  # running threads and the event that asks each to stop
_lock = threading.Lock()


def start(name: str, work: Callable[[threading.Event], None]) -> threading.Thread:
    """Run `work(stop)` in a daemon thread and make sure the timer that drains its results runs.

    `stop` is set when the add-on is unregistered: long waits must check it (at least every second or so).
    """
    stop = threading.Event()
    thread = threading.Thread(target=_run, args=(work, stop), name=f"animatediff-{name}", daemon=True)
    with _lock:
        _threads[thread] = stop
    thread.start()
    ensure_timer()
    return thread


def _run(work: Callable[[threading.Event], None], stop: threading.Event) -> None:
    try:
        work(stop)
    except Exception as exc:  # a bug in the add-on: show it instead of losing it in a thread
        traceback.print_exc()
        message = f"AnimateDiff: internal error in a background task ({type(exc).__name__}: {exc})"
        call_on_main(lambda: print(message))


def call_on_main(callback: Callable[[], None]) -> None:
    """Queue `callback` to run on Blender's main thread at the next `drain()` (safe from any thread).

    Posts from a thread that outlived an unregister are dropped: they belong to an add-on that is gone.
    """
    current = threading.current_thread()
    with _lock:
        if current is not threading.main_thread() and current not in _threads:
            return
    _inbox.put(callback)


def drain() -> float | None:
    """The timer function: apply what the threads handed back; None (stop calling) once nothing is left."""
    while True:
        try:
            callback = _inbox.get_nowait()
        except queue.Empty:
            break
        try:
            callback()
        except Exception:  # one failing update must not stop the others or kill the timer
            traceback.print_exc()
    with _lock:
        for thread in [t for t in _threads if not t.is_alive()]:
            del _threads[thread]
        alive = bool(_threads)
    # Threads first, then the inbox: a thread that posted and then ended left its post in the inbox.
    return POLL_INTERVAL if alive or not _inbox.empty() else None


def ensure_timer() -> None:
    if not bpy.app.timers.is_registered(drain):
        # persistent: a job keeps reporting after File > Open; unregister() removes the timer.
        bpy.app.timers.register(drain, first_interval=POLL_INTERVAL, persistent=True)


def shutdown() -> None:
    """Stop the timer and the threads (add-on unregister): nothing of ours may outlive the add-on.

    A timer left registered also hangs Blender 4.5's Python module at interpreter exit.
    """
    if bpy.app.timers.is_registered(drain):
        bpy.app.timers.unregister(drain)
    with _lock:
        running = list(_threads.items())
        _threads.clear()  # from now on their posts are dropped
    for _, stop in running:
        stop.set()
    for thread, _ in running:
        thread.join(STOP_TIMEOUT)
    while True:  # results for an add-on that is going away have nowhere to go
        try:
            _inbox.get_nowait()
        except queue.Empty:
            break
