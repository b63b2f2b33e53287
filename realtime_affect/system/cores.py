"""How many cores this process may use, how many threads the models get, and idle-priority threads (leaf
module, no imports beyond the standard library).

The landmarker (MediaPipe) runs in its own thread ahead of the models (``faces/ahead.py``); on a 2-core machine
ONNX Runtime's default of one thread per core made the two fight: one face at 640x360, 41.5 fps with ONNX
Runtime's default vs 46.1 fps with one model thread (benchmarks/bench_pipeline.py, same machine).
"""
from __future__ import annotations

import os
import threading
from typing import Callable, TypeVar

T = TypeVar("T")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS says, else the core count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def model_threads(workers: int = 1, cores: int | None = None) -> int:
    """Model (ONNX Runtime / torch) threads per analysing process: half of its share of the cores (the
    other half is the landmarker's and the decoder's), at least 1, at most 4 (the student is small)."""
    share = (cores or usable_cores()) / max(1, workers)
    return max(1, min(4, int(share // 2)))


def at_idle_priority(make: Callable[[], T]) -> T:
    """``make()`` run in a new thread at idle CPU priority (Linux ``SCHED_IDLE``), so that the threads it starts,
    such as a MediaPipe task's graph threads, inherit that priority and run only on cycles nothing else
    wants; its exception, if any, is raised here. Where a thread's priority cannot be lowered on its own, it
    is just ``make()``."""
    if not hasattr(os, "SCHED_IDLE"):
        return make()
    box: dict[str, object] = {}

    def run() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # this thread only (Linux)
        except OSError:
            pass
        try:
            box["value"] = make()
        except BaseException as exc:  # raised in the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=run, name="affect-idle-start")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
