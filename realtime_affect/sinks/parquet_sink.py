"""Parquet sink (pyarrow): the CSV's columns, in its order, with real types (ints, floats, strings, bools).

Rows are gathered and written one row group at a time (``row_group_frames`` frames or ``row_group_rows``
rows, whichever comes first), so memory stays flat on long videos; the file is complete once closed
(Ctrl-C and SIGTERM close it; a killed process leaves no footer, which ``affect-batch`` avoids by writing
to a temporary name and renaming).
"""
from __future__ import annotations

from pathlib import Path

from realtime_affect.labels import ACTION_UNITS, CSV_COLUMNS, EXPRESSION_COLUMNS, VALENCE_AROUSAL
from realtime_affect.sinks import SinkError, SinkWriteError, prepare_output
from realtime_affect.sinks.csv_sink import EXTRA_COLUMNS, MEASURE_COLUMNS
from realtime_affect.types import FaceMeasures, FrameResult

#: Column -> Arrow type name, for every CSV column, in the CSV's order.
COLUMN_TYPES: dict[str, str] = {
    "frame": "int64", "time_s": "float64", "track_id": "int32", "x": "float32", "y": "float32",
    "w": "float32", "h": "float32", "score": "float32", "expression": "string",
    **{c: "float32" for c in (*EXPRESSION_COLUMNS, *ACTION_UNITS, *VALENCE_AROUSAL)},
    "source": "string", "temporal": "bool", "fitted": "bool",
    **{c: "float32" for c in MEASURE_COLUMNS if c not in ("blink", "quality_flags", "baseline")},
    "blink": "bool", "quality_flags": "string", "baseline": "bool",
}
COLUMN_TYPES = {name: COLUMN_TYPES[name] for name in CSV_COLUMNS + EXTRA_COLUMNS + MEASURE_COLUMNS}


def arrow_schema():
    import pyarrow as pa

    types = {"bool": pa.bool_, "string": pa.string, "int64": pa.int64, "int32": pa.int32, "float32": pa.float32,
             "float64": pa.float64}
    return pa.schema([(name, types[kind]()) for name, kind in COLUMN_TYPES.items()])


def frame_rows(result: FrameResult) -> dict[str, list]:
    """The rows of one frame, column by column (the values ``csv_sink.format_rows`` writes as text)."""
    from realtime_affect.labels import EXPRESSIONS

    cols: dict[str, list] = {name: [] for name in COLUMN_TYPES}
    frame = result.frame
    source = frame.image_path or frame.source
    for face in result.faces:
        p = face.prediction
        x, y, w, h = (float(v) for v in face.face.box)
        values = [frame.index, round(frame.time_s, 6), face.track_id, x, y, w, h, float(face.face.score),
                  EXPRESSIONS[int(p.expression.argmax())], *map(float, p.expression), *map(float, p.action_units),
                  *map(float, p.valence_arousal), source, bool(face.temporal), bool(face.face.fitted)]
        m = face.measures or FaceMeasures()
        values += [m.head_yaw, m.head_pitch, m.head_roll, m.gaze_yaw, m.gaze_pitch, m.eye_open_l, m.eye_open_r,
                   bool(m.blink), m.quality, m.quality_flags, float(p.confidence), bool(face.baseline)]
        for name, value in zip(COLUMN_TYPES, values):
            cols[name].append(value)
    return cols


class ParquetSink:
    def __init__(self, path: str | Path, overwrite: bool = False, row_group_frames: int = 900,
                 row_group_rows: int = 20_000) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # a core dependency; only a broken install lacks it
            raise SinkError("Parquet output needs pyarrow: pip install pyarrow") from exc
        self.path = prepare_output(path, overwrite)
        self._schema = arrow_schema()
        try:
            self._writer = pq.ParquetWriter(str(self.path), self._schema, compression="zstd")
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot write ({exc})") from exc
        self._cols: dict[str, list] = {name: [] for name in COLUMN_TYPES}
        self._frames = 0
        self.rows = 0
        self.row_group_frames, self.row_group_rows = row_group_frames, row_group_rows

    def write(self, result: FrameResult) -> None:
        if self._writer is None:
            raise SinkError(f"{self.path}: sink is closed")
        for name, values in frame_rows(result).items():
            self._cols[name].extend(values)
        self._frames += 1
        self.rows += len(result.faces)
        if self._frames >= self.row_group_frames or len(self._cols["frame"]) >= self.row_group_rows:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        self._frames = 0
        if not self._cols["frame"]:
            return
        table = pa.Table.from_pydict(self._cols, schema=self._schema)
        self._cols = {name: [] for name in COLUMN_TYPES}
        try:
            self._writer.write_table(table)
        except OSError as exc:
            raise SinkWriteError(f"{self.path}: write failed ({exc})") from exc

    def close(self) -> None:
        if self._writer is None:
            return
        try:
            self._flush()
        finally:
            writer, self._writer = self._writer, None
            try:
                writer.close()
            except OSError as exc:
                raise SinkWriteError(f"{self.path}: write failed ({exc})") from exc

    def __enter__(self) -> "ParquetSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
