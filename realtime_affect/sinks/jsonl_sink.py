"""JSON lines sink: one object per frame with all its faces, flushed after every frame."""
from __future__ import annotations

import json

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS
from realtime_affect.sinks.text_sink import TextSink
from realtime_affect.types import FaceMeasures, FrameResult


def _num(value: float, digits: int) -> float | None:
    return None if value != value else round(float(value), digits)


def measure_record(measures: FaceMeasures | None) -> dict:
    """Head pose, gaze, eyes and quality of one face (null where unknown)."""
    m = measures or FaceMeasures()
    return {"head_yaw": _num(m.head_yaw, 1), "head_pitch": _num(m.head_pitch, 1), "head_roll": _num(m.head_roll, 1),
            "gaze_yaw": _num(m.gaze_yaw, 1), "gaze_pitch": _num(m.gaze_pitch, 1),
            "eye_open_l": _num(m.eye_open_l, 3), "eye_open_r": _num(m.eye_open_r, 3), "blink": bool(m.blink),
            "quality": _num(m.quality, 4), "quality_flags": m.quality_flags}


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
            **measure_record(f.measures),
            "expr_confidence": _num(f.prediction.confidence, 4),
            "baseline": f.baseline,
        } for f in result.faces],
    }


class JsonlSink(TextSink):
    """One JSON object per frame (frames without a face too), flushed as it goes."""

    def write(self, result: FrameResult) -> None:
        self._write(json.dumps(frame_record(result)) + "\n")
