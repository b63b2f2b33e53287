"""The batch summary (``DIR/summary.json``): per input its status, rows, frames, seconds and error; totals."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Sequence

from realtime_affect.batch.job import JobResult

SUMMARY_NAME = "summary.json"


def write_summary(out_dir: Path, results: Sequence[JobResult], started: float, exit_code: int,
                  runner: str) -> Path:
    """Write the summary atomically; returns its path."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    frames = sum(r.frames for r in results if r.status == "done")
    elapsed = time.time() - started
    data = {
        "runner": runner,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(elapsed, 3),
        "exit_code": exit_code,
        "counts": counts,
        "frames": frames,
        "rows": sum(r.rows for r in results if r.status == "done"),
        "fps": round(frames / elapsed, 2) if elapsed > 0 else 0.0,
        "inputs": [r.to_dict() for r in results],
    }
    path = Path(out_dir) / SUMMARY_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
