"""Fan-out of analysed frames to every connected socket, without ever making the analysis wait.

The analysis thread calls ``publish``; each subscriber has its own small queue on the server's event loop.
When a subscriber falls behind (a slow network, a tab in the background, a program that stopped reading),
its oldest undelivered message is dropped: it skips frames, nobody else notices, and memory stays bounded.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import threading
from dataclasses import dataclass

from realtime_affect.serve.protocol import pack_text

#: Undelivered messages a subscriber may hold: a program reading ``/ws/results`` gets about two seconds of
#: slack before it skips frames; a page (frames with their JPEG) only two, as it wants the newest frame.
RESULTS_QUEUE, VIEW_QUEUE = 64, 2


@dataclass(eq=False)
class Subscriber:
    """One socket's queue. ``wants_frames``: it gets [length][JSON][JPEG] bytes (the page), else JSON text."""

    id: int
    wants_frames: bool
    queue: asyncio.Queue = None  # type: ignore[assignment]
    dropped: int = 0
    sent: int = 0

    def __post_init__(self) -> None:
        if self.queue is None:
            self.queue = asyncio.Queue(VIEW_QUEUE if self.wants_frames else RESULTS_QUEUE)

    def offer(self, item) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)


class Hub:
    """Thread-safe publish, asyncio-side delivery. ``bind(loop)`` once the server's loop runs."""

    def __init__(self, max_subscribers: int = 64) -> None:
        self.max_subscribers = max_subscribers
        self._subscribers: dict[int, Subscriber] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.published = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, wants_frames: bool) -> Subscriber | None:
        """A new subscriber, or None when the server already has ``max_subscribers``."""
        with self._lock:
            if len(self._subscribers) >= self.max_subscribers:
                return None
            sub = Subscriber(next(self._ids), wants_frames)
            self._subscribers[sub.id] = sub
            return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.pop(sub.id, None)

    @property
    def count(self) -> int:
        return len(self._subscribers)

    def wants_frames(self) -> bool:
        """Whether any page is watching (only then is the frame JPEG-encoded)."""
        return any(s.wants_frames for s in list(self._subscribers.values()))

    def publish(self, message: dict, jpeg: bytes | None = None) -> None:
        """Called from any thread; returns at once. Serialised once here, whatever the number of subscribers:
        programs get the JSON text, pages the binary [length][JSON][JPEG] (or the text when there is no frame)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        text = json.dumps(message, separators=(",", ":"), allow_nan=False)
        binary = pack_text(text, jpeg) if jpeg is not None else None  # once for all pages
        self.published += 1
        try:
            loop.call_soon_threadsafe(self._deliver, text, binary)
        except RuntimeError:  # the loop closed meanwhile (shutting down)
            pass

    def close(self) -> None:
        """Ask every socket to close (going away) once it has sent what it holds: the server is stopping."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._deliver_close)
            except RuntimeError:
                pass

    def _deliver_close(self) -> None:
        for sub in list(self._subscribers.values()):
            sub.offer(None)

    def _deliver(self, text: str, binary: bytes | None) -> None:
        for sub in list(self._subscribers.values()):
            sub.offer(binary if sub.wants_frames and binary is not None else text)
