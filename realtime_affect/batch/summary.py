"""The batch summary (``DIR/summary.json``): per input its status, rows, frames, seconds and error; totals."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Sequence

from realtime_affect.batch.job import JobResult, events_name

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
    driven = [r for r in results if r.status == "done" and r.events is not None]
    if driven:
        data["driver"] = driver_summary(driven)
    path = Path(out_dir) / SUMMARY_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path


def driver_summary(results: Sequence[JobResult]) -> dict:
    """``--driver``: events per kind in total and per hour of video, and per input (the most eventful first), so
    that 500 hours of drives show the drives and the moments to look at."""
    hours = sum(r.video_s for r in results) / 3600.0
    totals: dict[str, int] = {}
    for r in results:
        for kind, n in (r.events or {}).items():
            totals[kind] = totals.get(kind, 0) + n

    def per_hour(counts: dict[str, int], h: float) -> dict[str, float]:
        return {kind: round(n / h, 2) for kind, n in sorted(counts.items())} if h > 0 else {}

    inputs = [{"input": r.input, "events_file": events_name(r.output), "hours": round(r.video_s / 3600.0, 4),
               "events": dict(sorted((r.events or {}).items())),
               "per_hour": per_hour(r.events or {}, r.video_s / 3600.0)} for r in results]
    inputs.sort(key=lambda e: -sum(e["events"].values()))
    return {"hours": round(hours, 4), "events": dict(sorted(totals.items())), "per_hour": per_hour(totals, hours),
            "inputs": inputs}
