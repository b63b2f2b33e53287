"""Per-stage wall-clock timing with negligible overhead (used by the CLI summary and benchmarks)."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator


class StageTimer:
    """Accumulates milliseconds per named stage; ``per_frame()`` gives mean ms per processed frame.

    Thread-safe: the face finder may run a frame ahead in its own thread while this one runs the models."""

    def __init__(self) -> None:
        self.total_ms: dict[str, float] = {}
        self.frames = 0
        self._lock = threading.Lock()

    def count_frame(self) -> None:
        """One more processed frame."""
        with self._lock:
            self.frames += 1

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, (time.perf_counter() - start) * 1000.0)

    def add(self, name: str, ms: float) -> None:
        with self._lock:
            self.total_ms[name] = self.total_ms.get(name, 0.0) + ms

    def per_frame(self) -> dict[str, float]:
        with self._lock:
            n = max(self.frames, 1)
            return {name: ms / n for name, ms in self.total_ms.items()}
