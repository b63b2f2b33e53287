"""How many cores this process may use, and how many threads the models get (leaf module, no imports).

The landmarker (MediaPipe) runs in its own thread ahead of the models (``overlap.py``); on a 2-core machine
ONNX Runtime's default of one thread per core made the two fight: one face at 640x360, 41.5 fps with ONNX
Runtime's default vs 46.1 fps with one model thread (benchmarks/bench_pipeline.py, same machine).
"""
from __future__ import annotations

import os


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
