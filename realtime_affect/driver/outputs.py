"""Driver-monitoring outputs: one CSV row per frame of driver signals, and events as JSON lines (one line when
an event starts, with ``end_s`` null, and one when it ends). Both flush as they go, so a stopped run keeps
everything written so far."""
from __future__ import annotations

import json
import math
from pathlib import Path

from realtime_affect.driver.monitor import DriverMonitor, DriverState, Event
from realtime_affect.sinks.text_sink import TextSink

DRIVER_COLUMNS = ("frame", "time_s", "track_id", "eye_open_left", "eye_open_right", "eye_state", "blink",
                  "closure_s", "perclos", "perclos_known_s", "blinks_per_min", "blink_duration_s", "mouth_open",
                  "yawn", "head_yaw", "head_pitch", "head_roll", "gaze_yaw", "gaze_pitch", "zone", "off_road_s",
                  "events")


def _num(value: float, digits: int = 3) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def driver_row(frame: int, state: DriverState) -> str:
    values = [str(frame), f"{state.time_s:.6f}", "" if state.track_id is None else str(state.track_id),
              _num(state.eye_open_left), _num(state.eye_open_right), state.eye_state, "1" if state.blink else "0",
              _num(state.closure_s), _num(state.perclos, 4), _num(state.perclos_known_s, 1),
              _num(state.blinks_per_min, 1), _num(state.blink_duration_s), _num(state.mouth_open),
              "1" if state.yawn else "0", _num(state.yaw, 1), _num(state.pitch, 1), _num(state.roll, 1),
              _num(state.gaze_yaw, 1), _num(state.gaze_pitch, 1), state.zone, _num(state.off_road_s, 2),
              " ".join(state.active)]
    return ",".join(values) + "\n"


class DriverCsv(TextSink):
    """``DRIVER_COLUMNS``, one row per frame (frames without a face too: their eyes are unknown)."""

    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        super().__init__(path, overwrite)
        self._write(",".join(DRIVER_COLUMNS) + "\n")

    def write(self, frame: int, state: DriverState) -> None:
        self._write(driver_row(frame, state))


class EventLog(TextSink):
    """Events as JSON lines: ``{"change": "start"|"end", "source": ..., kind, track_id, start_s, end_s, peak,
    reason}``."""

    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        super().__init__(path, overwrite)
        self.source = ""

    def write(self, event: Event, change: str) -> None:
        record = {"change": change, "source": self.source, **event.to_dict()}
        record["peak"] = round(float(record["peak"]), 4)
        self._write(json.dumps(record) + "\n")


class DriverRecorder:
    """The driver monitor over one input's results, written as ``affect-driver --csv --events`` writes them (the
    same rows and lines): ``write(result)`` per frame, ``close()`` ends the events still open. ``counts``: events
    per kind; ``seconds``: the span of video seen."""

    def __init__(self, signals: str | Path, events: str | Path, config, source: str) -> None:
        self.monitor = DriverMonitor(config)
        self.rows = DriverCsv(signals)
        try:
            self.events = EventLog(events)
        except BaseException:
            self.rows.close()
            raise
        self.events.source = source
        self.counts: dict[str, int] = {}
        self.first_t: float | None = None
        self.last_t = 0.0
        self.monitor.on_event(self._event)

    def _event(self, event: Event, change: str) -> None:
        self.events.write(event, change)
        if change == "start":
            self.counts[event.kind] = self.counts.get(event.kind, 0) + 1

    def write(self, result) -> None:
        state = self.monitor.update(result)
        self.rows.write(result.frame.index, state)
        self.first_t = result.time_s if self.first_t is None else self.first_t
        self.last_t = result.time_s

    @property
    def seconds(self) -> float:
        return 0.0 if self.first_t is None else self.last_t - self.first_t

    def close(self) -> None:
        try:
            self.monitor.finish(self.last_t)  # events still open end here, and are written
        finally:
            try:
                self.events.close()
            finally:
                self.rows.close()

    def __enter__(self) -> "DriverRecorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
