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
    driver: Path | None = None  # with --driver: the driver signals (affect-driver --csv's columns) ...
    events: Path | None = None  # ... and the events (affect-driver --events's lines)


DRIVER_SUFFIXES = (".driver.csv", ".events.jsonl")


class DriverFiles:
    """With ``--driver``: the driver monitor's signals and events beside a recording or a run's results, as
    ``affect-driver --csv --events`` writes them (the monitor's own state, the one the page shows live)."""

    def __init__(self, base: Path, source: str) -> None:
        from realtime_affect.driver.outputs import DriverCsv, EventLog

        self.signals, self.events_path = (base.with_name(base.name + s) for s in DRIVER_SUFFIXES)
        self.rows = DriverCsv(self.signals)
        try:
            self.events = EventLog(self.events_path)
        except BaseException:
            self.rows.close()
            raise
        self.events.source = source

    def write(self, frame: int, state) -> None:
        self.rows.write(frame, state)

    def event(self, event, change: str) -> None:
        self.events.write(event, change)

    def close(self) -> None:
        try:
            self.events.close()
        finally:
            self.rows.close()


class Recording:
    """Results of one source into a CSV/Parquet file and an annotated H.264 video, from ``start`` to ``stop``."""

    def __init__(self, folder: Path, source: str, fmt: str, fps: float, video: bool = True,
                 driver: bool = False) -> None:
        from realtime_affect.sinks.csv_sink import CsvSink
        from realtime_affect.sinks.video_sink import VideoSink

        if fmt not in FORMATS:
            raise RecordingError(f"unknown recording format {fmt!r}: choose csv or parquet")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingError(f"{folder}: cannot make the recordings folder ({exc.strerror})") from None
        base = free_name(folder, f"{_safe_stem(source)}-{time.strftime('%Y%m%d-%H%M%S')}",
                         (f".{fmt}", ".mp4", *DRIVER_SUFFIXES))
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
        self.driver: DriverFiles | None = None
        if driver:
            try:
                self.driver = DriverFiles(base, source)
            except BaseException:
                for sink in self._sinks:
                    sink.close()
                raise
        self.frames = 0
        self._lock = threading.Lock()
        self._closed = False

    def write(self, result, driver_state=None) -> None:
        with self._lock:
            if self._closed:
                return
            for sink in self._sinks:
                sink.write(result)
            if self.driver is not None and driver_state is not None:
                self.driver.write(result.frame.index, driver_state)
            self.frames += 1

    def event(self, event, change: str) -> None:
        """A driver event started or ended while recording."""
        with self._lock:
            if not self._closed and self.driver is not None:
                self.driver.event(event, change)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for sink in [*self._sinks, *([self.driver] if self.driver is not None else [])]:
                try:
                    sink.__exit__(None, None, None)
                except Exception as exc:  # one output failing must not lose the other
                    log.error("closing %s: %s", getattr(sink, "path", sink), exc)

    def replay(self) -> Replay:
        d = self.driver
        return Replay(self.results_path.name, self.results_path, self.video_path, "recording", True,
                      d.signals if d else None, d.events_path if d else None)


def replay_frames(results: Path, max_frames: int = 20000, driver: Path | None = None,
                  events: Path | None = None) -> dict:
    """A results file as the page replays it: per frame the faces with box, expressions, AUs and VA
    (every ``step``-th frame when the file has more than ``max_frames``); with ``driver``/``events`` files, per
    frame the driver's signals and active events, and the run's events with their start and end."""
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
    data = {"name": results.name, "frames": frames, "step": step}
    if driver is not None and driver.is_file():
        signals = _driver_signals(driver)
        for frame in frames:
            if frame["frame"] in signals:
                frame["driver"] = signals[frame["frame"]]
        data["events"] = _events(events) if events is not None and events.is_file() else []
    return data


def _driver_signals(path: Path) -> dict[int, dict]:
    """Frame number -> the driver fields the page shows (as a live frame message's ``driver``)."""
    import math

    import pandas as pd

    df = pd.read_csv(path, dtype={"eye_state": str, "zone": str, "events": str}, keep_default_na=False)
    num = (lambda v: None if v == "" or (isinstance(v, float) and math.isnan(v)) else float(v))
    out = {}
    for r in df.itertuples(index=False):
        out[int(r.frame)] = {"eye_state": r.eye_state or "unknown", "zone": r.zone or "unknown",
                             "perclos": num(r.perclos), "blinks_per_min": num(r.blinks_per_min),
                             "closure_s": num(r.closure_s) or 0.0, "yawn": str(r.yawn) == "1",
                             "track_id": None if r.track_id == "" else int(float(r.track_id)),
                             "active": [k for k in str(r.events).split() if k]}
    return out


def _events(path: Path) -> list[dict]:
    """The run's events, each once: kind, start and end (None while it was still on at the end)."""
    import json

    found: dict[tuple, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        key = (record["kind"], record.get("track_id"), record["start_s"])
        found[key] = {"kind": record["kind"], "start_s": record["start_s"], "end_s": record.get("end_s")}
    return sorted(found.values(), key=lambda e: e["start_s"])
