"""Wakes SSE streams (asyncio) when the worker thread stores an event, without a thread per stream."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict


class EventBus:
    """`notify(job_id)` from any thread; in the event loop: `subscribe`, re-read the store, `await wait_on`.

    Subscribing before re-reading the store means an event stored in between is never missed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)

    def notify(self, job_id: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(job_id, ()))
        for loop, event in waiters:
            # asyncio.Event is not thread-safe: set it from its own loop.
            loop.call_soon_threadsafe(event.set)

    def subscribe(self, job_id: str) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        token = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters[job_id].add(token)
        return token

    def unsubscribe(self, job_id: str, token: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(token)
                if not waiters:
                    del self._waiters[job_id]

    @staticmethod
    async def wait_on(token: tuple[asyncio.AbstractEventLoop, asyncio.Event], timeout: float) -> bool:
        event = token[1]
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        event.clear()
        return True
