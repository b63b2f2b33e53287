"""Backend latency benchmark: per-face student latency at several batch sizes, per-track GRU latency."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from realtime_affect.models.backends.base import AffectModel


@dataclass
class BenchRow:
    backend: str
    network: str
    batch: int
    p50_ms: float
    p95_ms: float

    @property
    def per_item_ms(self) -> float:
        return self.p50_ms / self.batch

    @property
    def items_per_s(self) -> float:
        return 1000.0 * self.batch / self.p50_ms


def _time(fn, x: np.ndarray, repeat: int, warmup: int = 3) -> tuple[float, float]:
    for _ in range(warmup):
        fn(x)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x)
        samples.append((time.perf_counter() - t0) * 1000.0)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def bench_model(model: AffectModel, batches=(1, 4, 16), repeat: int = 50) -> list[BenchRow]:
    rng = np.random.default_rng(0)
    card = model.card
    rows = []
    for b in batches:
        x = rng.normal(size=(b, 3, card.input_size, card.input_size)).astype(np.float32)
        rows.append(BenchRow(model.backend_name, "student", b, *_time(model.student, x, repeat)))
    if model.sequence is not None:
        for b in batches:
            x = rng.normal(size=(b, card.window, card.feature_dim)).astype(np.float32)
            rows.append(BenchRow(model.backend_name, "sequence", b, *_time(model.sequence, x, repeat)))
    return rows
