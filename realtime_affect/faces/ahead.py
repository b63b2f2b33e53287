"""Find faces one frame ahead: a worker thread decodes and landmarks frame t+1 while the caller's thread
aligns, runs the student and the GRU and writes frame t.

Decoding (PyAV), MediaPipe's landmarker and ONNX Runtime all run native code without Python's lock, so on
two cores the landmarker (the floor of the product) no longer waits for everything after it. Results stay
in frame order (one bounded queue); a stop request ends reading, and the frames already found are still
handed over, so nothing processed is lost; an error in the worker is raised in the caller's thread after
the frames before it.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterable, Iterator, TypeVar

from realtime_affect.timing import StageTimer
from realtime_affect.types import Face, Frame

T = TypeVar("T")

_END = object()


class _Failure:
    """An exception raised in the worker, carried to the caller's thread."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(q: queue.Queue, item: object, halt: threading.Event) -> bool:
    """Put unless the consumer has gone away (``halt``); True when the item was queued."""
    while not halt.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def ahead(items: Iterable[T], work: Callable[[T], object], depth: int = 2,
          stop: threading.Event | None = None, name: str = "affect-ahead") -> Iterator[tuple[T, object]]:
    """``(item, work(item))`` for each item, in order, computed by one worker thread up to ``depth``
    items ahead of the caller. Closing the generator stops and joins the worker before returning."""
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    halt = threading.Event()

    def run() -> None:
        try:
            it = iter(items)
            while not halt.is_set() and not (stop is not None and stop.is_set()):
                item = next(it, _END)
                if item is _END:
                    break
                if not _put(q, (item, work(item)), halt):
                    return
        except BaseException as exc:  # handed to the caller, raised there
            _put(q, _Failure(exc), halt)
        finally:
            _put(q, _END, halt)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            got = q.get()
            if got is _END:
                return
            if isinstance(got, _Failure):
                raise got.exc
            yield got
    finally:
        halt.set()
        while worker.is_alive():  # unblock a worker waiting on a full queue, then wait for it
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()


def timed_frames(frames: Iterable[Frame], timer: StageTimer) -> Iterator[Frame]:
    """The frames, with the time spent decoding each added to ``timer`` as "decode"."""
    it = iter(frames)
    while True:
        start = time.perf_counter()
        frame = next(it, None)
        timer.add("decode", (time.perf_counter() - start) * 1000.0)
        if frame is None:
            return
        yield frame


def faces_ahead(frames: Iterable[Frame], find: Callable[[Frame], list[Face]], depth: int = 2,
                stop: threading.Event | None = None) -> Iterator[tuple[Frame, list[Face]]]:
    """``(frame, faces)`` in frame order, decoded and landmarked by a worker thread ``depth`` frames ahead."""
    return ahead(frames, find, depth=depth, stop=stop, name="affect-faces")  # type: ignore[return-value]
