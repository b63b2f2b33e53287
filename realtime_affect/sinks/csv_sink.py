"""CSV sink: one row per face per frame, in the documented column order, flushed after every frame."""
from __future__ import annotations

from pathlib import Path

from realtime_affect.labels import CSV_COLUMNS, EXPRESSIONS
from realtime_affect.sinks.text_sink import TextSink
from realtime_affect.types import FaceMeasures, FrameResult

#: Columns after the contract: which input the row came from, whether the temporal model made it, and
#: whether the landmarker fitted the face (0: aligned from the detector's keypoints, less reliable).
EXTRA_COLUMNS = ("source", "temporal", "fitted")
#: Columns after those: head pose, gaze, eyes and how far to trust the row (``types.FaceMeasures``), empty
#: where a value is unknown; then whether the readings are relative to a per-person neutral baseline (1/0).
MEASURE_COLUMNS = ("head_yaw", "head_pitch", "head_roll", "gaze_yaw", "gaze_pitch", "eye_open_l", "eye_open_r",
                   "blink", "quality", "quality_flags", "expr_confidence", "baseline")


def _fmt(value: float) -> str:
    return f"{value:.5f}"


def _opt(value: float, digits: int) -> str:
    return "" if value != value else f"{value:.{digits}f}"


def measure_values(measures: FaceMeasures | None, confidence: float, baseline: bool = False) -> list[str]:
    """The ``MEASURE_COLUMNS`` of one face as CSV text (empty where unknown)."""
    tail = [_opt(confidence, 4), "1" if baseline else "0"]
    if measures is None:
        return [""] * (len(MEASURE_COLUMNS) - len(tail)) + tail
    m = measures
    return [_opt(m.head_yaw, 1), _opt(m.head_pitch, 1), _opt(m.head_roll, 1), _opt(m.gaze_yaw, 1),
            _opt(m.gaze_pitch, 1), _opt(m.eye_open_l, 3), _opt(m.eye_open_r, 3), "1" if m.blink else "0",
            _opt(m.quality, 4), m.quality_flags] + tail


def format_rows(result: FrameResult) -> str:
    """The CSV text (no header) for all faces of one frame."""
    frame = result.frame
    source = (frame.image_path or frame.source).replace('"', '""')
    if "," in source or '"' in source:
        source = f'"{source}"'
    lines = []
    for face in result.faces:
        p = face.prediction
        x, y, w, h = (float(v) for v in face.face.box)
        values = [str(frame.index), f"{frame.time_s:.6f}", str(face.track_id), f"{x:.1f}", f"{y:.1f}",
                  f"{w:.1f}", f"{h:.1f}", f"{face.face.score:.4f}", EXPRESSIONS[int(p.expression.argmax())]]
        values += [_fmt(v) for v in p.expression]
        values += [_fmt(v) for v in p.action_units]
        values += [_fmt(v) for v in p.valence_arousal]
        values += [source, "1" if face.temporal else "0", "1" if face.face.fitted else "0"]
        values += measure_values(face.measures, p.confidence, face.baseline)
        lines.append(",".join(values))
    return "".join(line + "\n" for line in lines)


class CsvSink(TextSink):
    """Writes results as CSV; every frame's rows go out in one write followed by a flush."""

    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        super().__init__(path, overwrite)
        self.rows = 0
        self._write(",".join(CSV_COLUMNS + EXTRA_COLUMNS + MEASURE_COLUMNS) + "\n")

    def write(self, result: FrameResult) -> None:
        if result.faces:
            self._write(format_rows(result))
            self.rows += len(result.faces)
