"""Parquet sink (pyarrow): the CSV's columns, in its order, with real types (ints, floats, strings, bools).

A Parquet file is only readable once its footer is written, so a killed process (power loss, the OOM killer,
SIGKILL) would lose all of it. While a run goes on, its rows are therefore journaled next to the output, in
``NAME.parquet.partial`` (an Arrow IPC stream: readable up to its last whole batch without any footer), one
batch every ``flush_s`` seconds (2 by default) or ``batch_rows`` rows. Closing the sink (end of input,
Ctrl-C, SIGTERM) writes the Parquet file from the journal, one row group per ``row_group_rows`` rows, under a
temporary name renamed into place, then removes the journal. After a kill, ``results.read_results(NAME)``
reads the journal, and ``results.finish_partial(NAME)`` writes the Parquet file from it.
"""
from __future__ import annotations

import os
import time
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


PARTIAL_SUFFIX = ".partial"


def partial_path(path: str | Path) -> Path:
    """Where the journal of the Parquet output ``path`` is kept while a run writes it."""
    path = Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


def iter_partial(journal: str | Path):
    """The record batches of a journal up to its last whole one (a killed writer leaves a cut one), one at a
    time (a long run's journal is never held whole)."""
    import pyarrow as pa

    try:
        with pa.OSFile(str(journal), "rb") as fh:
            reader = pa.ipc.open_stream(fh)
            while True:
                try:
                    yield reader.read_next_batch()
                except StopIteration:
                    return
    except (pa.ArrowInvalid, OSError, EOFError):  # the cut end of a killed run's journal
        return


def read_partial(journal: str | Path):
    """The rows of a journal up to its last whole batch, as a Table."""
    import pyarrow as pa

    return pa.Table.from_batches(list(iter_partial(journal)), schema=arrow_schema())


def write_parquet(batches, path: Path, row_group_rows: int) -> None:
    """Write record batches as a Parquet file at ``path`` via a temporary name (readable or absent)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    pending: list = []
    rows = 0
    try:
        with pq.ParquetWriter(str(tmp), arrow_schema(), compression="zstd") as writer:
            for batch in batches:
                pending.append(batch)
                rows += batch.num_rows
                if rows >= row_group_rows:
                    writer.write_table(pa.Table.from_batches(pending), row_group_size=row_group_rows)
                    pending, rows = [], 0
            if pending:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=row_group_rows)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ParquetSink:
    """Writes results as Parquet, journaled while the run goes on (see the module's docstring)."""

    def __init__(self, path: str | Path, overwrite: bool = False, row_group_rows: int = 20_000,
                 flush_s: float = 2.0, batch_rows: int = 5_000) -> None:
        try:
            import pyarrow as pa
        except ImportError as exc:  # a core dependency; only a broken install lacks it
            raise SinkError("Parquet output needs pyarrow: pip install pyarrow") from exc
        self.path = prepare_output(path, overwrite)
        self.journal = partial_path(self.path)
        if self.journal.exists() and not overwrite:
            raise SinkError(f"{self.journal}: results of a run that was stopped before it finished; read them "
                            "with realtime_affect.read_results, or pass --overwrite to replace them")
        self._schema = arrow_schema()
        try:
            self._file = pa.OSFile(str(self.journal), "wb")
            self._writer = pa.ipc.new_stream(self._file, self._schema)
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot write ({exc})") from exc
        self._cols: dict[str, list] = {name: [] for name in COLUMN_TYPES}
        self._last_flush = time.monotonic()
        self.rows = 0
        self.row_group_rows, self.flush_s, self.batch_rows = row_group_rows, flush_s, batch_rows

    def write(self, result: FrameResult) -> None:
        if self._writer is None:
            raise SinkError(f"{self.path}: sink is closed")
        for name, values in frame_rows(result).items():
            self._cols[name].extend(values)
        self.rows += len(result.faces)
        if len(self._cols["frame"]) >= self.batch_rows or time.monotonic() - self._last_flush >= self.flush_s:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        self._last_flush = time.monotonic()
        if not self._cols["frame"]:
            return
        batch = pa.RecordBatch.from_pydict(self._cols, schema=self._schema)
        self._cols = {name: [] for name in COLUMN_TYPES}
        try:
            self._writer.write_batch(batch)
            self._file.flush()
        except OSError as exc:
            raise SinkWriteError(f"{self.path}: write failed ({exc}); the rows so far are in {self.journal}") from exc

    def close(self) -> None:
        if self._writer is None:
            return
        try:
            self._flush()
        finally:
            writer, self._writer = self._writer, None
            try:
                writer.close()
                self._file.close()
            except OSError as exc:
                raise SinkWriteError(f"{self.path}: write failed ({exc})") from exc
        try:
            write_parquet(iter_partial(self.journal), self.path, self.row_group_rows)
        except OSError as exc:
            raise SinkWriteError(f"{self.path}: write failed ({exc}); the rows are kept in {self.journal}, "
                                 "read them with realtime_affect.read_results") from exc
        self.journal.unlink(missing_ok=True)

    def __enter__(self) -> "ParquetSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
