"""Recordings started and stopped from the page (results as CSV or Parquet, plus the annotated video), the
results files a page can replay, and replay rows read back with ``read_results``."""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from realtime_affect.errors import InputError

log = logging.getLogger(__name__)

FORMATS = ("csv", "parquet")


class RecordingError(InputError, ValueError):
    """A recording that cannot be started (unknown format, folder not writable) or a replay not found."""


def _safe_stem(source: str) -> str:
    stem = Path(source.split("?")[0].rstrip("/")).stem or "camera"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:40] or "camera"


def free_name(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path:
    """``folder/stem`` with a numeric tail where any of ``stem + suffix`` exists: never overwrites."""
    candidate, n = folder / stem, 1
    while any(candidate.with_name(candidate.name + s).exists() for s in suffixes):
        n += 1
        candidate = folder / f"{stem}-{n}"
    return candidate


@dataclass
class Replay:
    """A results file the page may replay, and the video to show beside it (None: plots only)."""

    name: str
    results: Path
    video: Path | None
    kind: str  # "run" (a finished --video input) or "recording"
    overlays_drawn: bool  # the video already has the overlays burnt in (recordings)


class Recording:
    """Results of one source into a CSV/Parquet file and an annotated H.264 video, from ``start`` to ``stop``."""

    def __init__(self, folder: Path, source: str, fmt: str, fps: float, video: bool = True) -> None:
        from realtime_affect.sinks.csv_sink import CsvSink
        from realtime_affect.sinks.video_sink import VideoSink

        if fmt not in FORMATS:
            raise RecordingError(f"unknown recording format {fmt!r}: choose csv or parquet")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingError(f"{folder}: cannot make the recordings folder ({exc.strerror})") from None
        base = free_name(folder, f"{_safe_stem(source)}-{time.strftime('%Y%m%d-%H%M%S')}", (f".{fmt}", ".mp4"))
        self.source = source
        self.results_path = base.with_name(base.name + f".{fmt}")
        self.video_path = base.with_name(base.name + ".mp4") if video else None
        if fmt == "parquet":
            from realtime_affect.sinks.parquet_sink import ParquetSink

            self._sinks = [ParquetSink(self.results_path)]
        else:
            self._sinks = [CsvSink(self.results_path)]
        if self.video_path is not None:
            self._sinks.append(VideoSink(self.video_path, fps=fps))
        for sink in self._sinks:
            sink.__enter__()
        self.frames = 0
        self._lock = threading.Lock()
        self._closed = False

    def write(self, result) -> None:
        with self._lock:
            if self._closed:
                return
            for sink in self._sinks:
                sink.write(result)
            self.frames += 1

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for sink in self._sinks:
                try:
                    sink.__exit__(None, None, None)
                except Exception as exc:  # one output failing must not lose the other
                    log.error("closing %s: %s", getattr(sink, "path", sink), exc)

    def replay(self) -> Replay:
        return Replay(self.results_path.name, self.results_path, self.video_path, "recording", True)


def replay_frames(results: Path, max_frames: int = 20000) -> dict:
    """A results file as the page replays it: per frame the faces with box, expressions, AUs and VA
    (every ``step``-th frame when the file has more than ``max_frames``)."""
    from realtime_affect.labels import ACTION_UNITS, EXPRESSION_COLUMNS, EXPRESSIONS
    from realtime_affect.results import read_results

    df = read_results(results)
    frames: list[dict] = []
    numbers = sorted(df["frame"].unique().tolist()) if len(df) else []
    step = max(1, -(-len(numbers) // max_frames))
    keep = set(numbers[::step])
    for number, rows in df[df["frame"].isin(keep)].groupby("frame", sort=True):
        faces = []
        for row in rows.itertuples(index=False):
            r = row._asdict()
            faces.append({
                "track_id": int(r["track_id"]), "box": [float(r[k]) for k in ("x", "y", "w", "h")],
                "expression": str(r["expression"]),
                "expressions": {n: float(r[c]) for n, c in zip(EXPRESSIONS, EXPRESSION_COLUMNS)},
                "action_units": {n: float(r[n]) for n in ACTION_UNITS},
                "valence": float(r["valence"]), "arousal": float(r["arousal"]),
            })
        frames.append({"frame": int(number), "time_s": float(rows["time_s"].iloc[0]), "faces": faces})
    return {"name": results.name, "frames": frames, "step": step}
