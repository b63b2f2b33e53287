"""JSON lines sink: one object per frame with all its faces, flushed after every frame."""
from __future__ import annotations

import json
from pathlib import Path

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS
from realtime_affect.types import FrameResult
from realtime_affect.sinks import SinkError, prepare_output


def frame_record(result: FrameResult) -> dict:
    frame = result.frame
    return {
        "frame": frame.index,
        "time_s": round(frame.time_s, 6),
        "source": frame.image_path or frame.source,
        "faces": [{
            "track_id": f.track_id,
            "box": [round(float(v), 1) for v in f.face.box],
            "score": round(float(f.face.score), 4),
            "expression": EXPRESSIONS[int(f.prediction.expression.argmax())],
            "expressions": {n: round(float(p), 5) for n, p in zip(EXPRESSIONS, f.prediction.expression)},
            "action_units": {n: round(float(p), 5) for n, p in zip(ACTION_UNITS, f.prediction.action_units)},
            "valence": round(f.prediction.valence, 5),
            "arousal": round(f.prediction.arousal, 5),
            "temporal": f.temporal,
            "fitted": f.face.fitted,
        } for f in result.faces],
    }


class JsonlSink:
    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        self.path = prepare_output(path, overwrite)
        try:
            self._fh = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot write ({exc.strerror})") from exc

    def write(self, result: FrameResult) -> None:
        if self._fh is None:
            raise SinkError(f"{self.path}: sink is closed")
        try:
            self._fh.write(json.dumps(frame_record(result)) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise SinkError(f"{self.path}: write failed ({exc.strerror})") from exc

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "JsonlSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
