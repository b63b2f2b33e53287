"""The JSON messages streamed on ``/ws/results`` (and with each frame on ``/ws/view``): the documented schema.

Every message is one JSON object with ``"schema": "realtime-affect/results"`` and ``"version"``. A client
should check both and ignore fields it does not know (fields are only ever added within a version).

- ``type: "hello"`` (first message on every socket): ``sources`` (names being analysed), ``driver`` (bool),
  ``expressions`` and ``action_units`` (the label order), ``ended`` (sources that already finished, each
  with its ``replay``: a subscriber that joins late gets the frames from then on).
- ``type: "frame"`` (one per analysed frame): exactly the fields of an ``affect-live --jsonl`` line
  (``frame``, ``time_s``, ``source``, ``faces``: per face ``track_id``, ``box`` [x, y, width, height] in pixels of
  the analysed frame, ``expression``, ``expressions``, ``action_units``, ``valence``, ``arousal``, ``temporal``,
  ``fitted``, head pose, gaze, eyes, ``quality``, ``expr_confidence``, ``baseline``), plus ``width`` and
  ``height`` of the analysed frame, ``analysed_at`` (Unix seconds when its results were ready), ``fps``
  (analysed frames per second of that source, recent), and with ``--driver`` a ``driver`` object (the
  driver monitor's signals for that frame: eye state, PERCLOS, closure, gaze zone, active events).
  Answers to frames sent from a browser camera also carry ``client`` (``id`` and ``sent_ms`` of the frame).
- On ``/ws/view`` (pages) a frame message comes as binary with its picture, at most 30 pictures a second;
  frames in between come as text, so the plots get every reading.
- ``type: "end"``: a source finished (``source``, ``replay``: the results file the page can replay, or null).
- ``type: "error"``: a refusal of something this client sent (``message``); the socket stays open.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, is_dataclass

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS

SCHEMA = "realtime-affect/results"
SCHEMA_VERSION = 1


def _base(kind: str) -> dict:
    return {"schema": SCHEMA, "version": SCHEMA_VERSION, "type": kind}


def hello_message(sources: list[str], driver: bool, ended: list[dict] | None = None) -> dict:
    return {**_base("hello"), "sources": sources, "driver": driver, "expressions": list(EXPRESSIONS),
            "action_units": list(ACTION_UNITS), "ended": ended or []}


def _plain(value):
    """JSON-safe copy: NaN/inf -> None, tuples -> lists (a stray NaN would make the JSON invalid)."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 5)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def driver_record(state) -> dict:
    """The driver monitor's state of one frame (``driver.monitor.DriverState``) as plain JSON values."""
    record = asdict(state) if is_dataclass(state) else dict(state)
    record["eyes_closed"] = state.eyes_closed
    return _plain(record)


def frame_message(result, fps: float | None = None, driver=None, client: dict | None = None) -> dict:
    """One analysed frame (``types.FrameResult``) as a ``frame`` message."""
    from realtime_affect.sinks.jsonl_sink import frame_record

    height, width = result.frame.bgr.shape[:2]
    message = {**_base("frame"), **frame_record(result), "width": int(width), "height": int(height),
               "analysed_at": round(time.time(), 4), "fps": None if fps is None else round(float(fps), 2)}
    if driver is not None:
        message["driver"] = driver_record(driver)
    if client is not None:
        message["client"] = client
    return _plain(message)


def end_message(source: str, replay: str | None) -> dict:
    return {**_base("end"), "source": source, "replay": replay}


def error_message(text: str, **more) -> dict:
    """Something a page or program should show; ``more``: what it is about (``source``, ``recording``)."""
    return {**_base("error"), "message": text, **more}
