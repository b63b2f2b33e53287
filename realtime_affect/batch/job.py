"""Annotate one input into one output file: written under a temporary name, renamed when complete, with a
manifest (input size and date, output size) that ``--resume`` trusts. Never raises for a bad input: the
result says what went wrong."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from realtime_affect.analysis.options import AnalyzerOptions
from realtime_affect.batch.inputs import BatchInput
from realtime_affect.sources import is_stream_url

log = logging.getLogger(__name__)

#: Hidden folder in the output folder holding one manifest per completed output.
MANIFEST_DIR = ".affect-batch"
FORMATS = {"csv": ".csv", "parquet": ".parquet"}
#: ``--driver``: per input the driver signals (``affect-driver --csv``) and, beside them, its events
#: (``affect-driver --events``).
DRIVER_SUFFIX, EVENTS_SUFFIX = ".driver.csv", ".events.jsonl"


def events_name(output: str) -> str:
    """The events file that goes with a driver signals file (``clip.driver.csv`` -> ``clip.events.jsonl``)."""
    return output[: -len(DRIVER_SUFFIX)] + EVENTS_SUFFIX if output.endswith(DRIVER_SUFFIX) else output + EVENTS_SUFFIX


@dataclass
class JobOptions:
    """What every job of a batch shares: the analysis (``AnalyzerOptions``, the same defaults as ``affect-live``),
    the model and the output format."""

    analysis: AnalyzerOptions = field(default_factory=AnalyzerOptions)
    model: str | None = None
    backend: str = "auto"
    format: str = "csv"
    #: ONNX Runtime / torch threads per worker (None: the runtime's default).
    threads: int | None = None
    #: ``--driver``: the driver monitor's configuration (``driver.config.DriverConfig``); each input then gives
    #: its driver signals and events instead of the affect rows.
    driver: object | None = None
    #: ``--reconnect``: how long a dropped stream URL is retried (None: the default for streams).
    reconnect_s: float | None = None

    def analyzer_options(self) -> AnalyzerOptions:
        """The analysis each job runs. Batch workers already share the cores between them: no idle-priority
        helper or sweep threads (they would starve); the sweeps still merge as in affect-live, so the rows are
        the same."""
        options = self.analysis
        eyes = self.driver.eyes if self.driver is not None else options.eyes  # the rows' eyes are the driver's
        return replace(options, student_process=False, finder=replace(options.finder, idle_sweeps=False), eyes=eyes)


@dataclass
class JobResult:
    input: str
    output: str
    status: str            # done | skipped | failed | interrupted
    rows: int = 0
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None  # why it failed; for a done input, a note (e.g. the file breaks part way)
    #: ``--driver``: events per kind, and the seconds of video they came from
    events: dict[str, int] | None = None
    video_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def fingerprint(location: str) -> dict | None:
    """Size and modification time of an input file (None for a stream URL)."""
    if is_stream_url(location):
        return None
    st = os.stat(location)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def manifest_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / MANIFEST_DIR / f"{name}.json"


def partial_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / f".{name}.partial"


def is_complete(out_dir: Path, item: BatchInput) -> bool:
    """True when the output exists, is the one the manifest describes, and the input has not changed."""
    out = Path(out_dir) / item.output
    manifest = manifest_path(out_dir, item.output)
    if not out.is_file() or not manifest.is_file():
        return False
    try:
        record = json.loads(manifest.read_text(encoding="utf-8"))
        current = fingerprint(item.location)
        events = record.get("events_size")
        if events is not None and (Path(out_dir) / events_name(item.output)).stat().st_size != events:
            return False
    except (OSError, ValueError):
        return False
    return (record.get("input") == item.location and record.get("input_fingerprint") == current
            and record.get("output_size") == out.stat().st_size)


def _write_manifest(out_dir: Path, item: BatchInput, result: JobResult) -> None:
    path = manifest_path(out_dir, item.output)
    path.parent.mkdir(exist_ok=True)
    record = {"input": item.location, "input_fingerprint": fingerprint(item.location),
              "output_size": (Path(out_dir) / item.output).stat().st_size, "rows": result.rows,
              "frames": result.frames}
    if result.events is not None:
        record.update(events_size=(Path(out_dir) / events_name(item.output)).stat().st_size, events=result.events,
                      video_s=result.video_s)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)


def store_output(out_dir: Path, item: BatchInput, result: JobResult, data: bytes | dict[str, bytes]) -> None:
    """Write an output made elsewhere (a Ray worker on another node) as ``annotate`` writes its own: under a
    temporary name, renamed when complete, then the manifest ``--resume`` trusts. ``data``: the output's bytes,
    or file name -> bytes (``--driver``: the events file, then the signals file, renamed last)."""
    out_dir = Path(out_dir)
    files = data if isinstance(data, dict) else {item.output: data}
    for name in sorted(files, key=lambda n: n == item.output):  # the output itself last: its presence says done
        tmp = partial_path(out_dir, name)
        try:
            tmp.write_bytes(files[name])
            os.replace(tmp, out_dir / name)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
    _write_manifest(out_dir, item, result)


def open_job_model(options: JobOptions):
    """The model a worker uses for all its jobs (opened once per worker)."""
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model

    model = open_model(resolve_model(options.model, options.backend), backend=options.backend,
                       threads=options.threads)
    if options.threads and model.backend_name.startswith("torch"):  # ONNX Runtime takes them in open_model
        import torch

        torch.set_num_threads(options.threads)
    return model


def _sink(path: Path, fmt: str):
    if fmt == "parquet":
        from realtime_affect.sinks.parquet_sink import ParquetSink

        return ParquetSink(path)
    from realtime_affect.sinks.csv_sink import CsvSink

    return CsvSink(path)


def _job_sink(path: Path, events: Path, options: JobOptions, source: str):
    """Where a job's results go: the affect rows, or with ``--driver`` the driver signals and events."""
    if options.driver is not None:
        from realtime_affect.driver.outputs import DriverRecorder

        return DriverRecorder(path, events, options.driver, source)
    return _sink(path, options.format)


def annotate(item: BatchInput, out_dir: Path, model, options: JobOptions, stop: threading.Event | None = None,
             on_frames: Callable[[int], None] | None = None) -> JobResult:
    """Annotate ``item`` into ``out_dir/item.output``; the result's status is done, failed or interrupted."""
    from realtime_affect.runner import analyze_video
    from realtime_affect.sinks import SinkError
    from realtime_affect.sources import SourceError, VideoSource

    started = time.perf_counter()
    out_dir = Path(out_dir)
    tmp, final = partial_path(out_dir, item.output), out_dir / item.output
    events_tmp = partial_path(out_dir, events_name(item.output))
    result = JobResult(item.location, item.output, "failed")
    pending = 0
    try:
        tmp.unlink(missing_ok=True)
        events_tmp.unlink(missing_ok=True)
        with VideoSource(item.location, reconnect_s=options.reconnect_s) as source, _job_sink(tmp, events_tmp, options, source.name) as sink:
            for frame_result in analyze_video(model, source, options.analyzer_options(), stop=stop):
                sink.write(frame_result)
                result.frames += 1
                result.rows += len(frame_result.faces)
                pending += 1
                if on_frames is not None and pending >= 25:
                    on_frames(pending)
                    pending = 0
            truncated = source.error if source.truncated else None
        if stop is not None and stop.is_set():
            result.status = "interrupted"
            return result
        if options.driver is not None:
            result.events, result.video_s = dict(sink.counts), round(sink.seconds, 3)
            os.replace(events_tmp, out_dir / events_name(item.output))
        os.replace(tmp, final)  # last: the output's presence says the input is done
        result.status, result.error = "done", truncated
        _write_manifest(out_dir, item, result)
    except (SourceError, SinkError, OSError) as exc:
        result.error = str(exc)
    except Exception as exc:  # one bad input never stops the batch
        log.debug("%s failed", item.location, exc_info=True)
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if on_frames is not None and pending:
            on_frames(pending)
        for left in (tmp, events_tmp, tmp.with_name(tmp.name + ".partial")):  # (a Parquet sink's journal too)
            left.unlink(missing_ok=True)
        result.seconds = round(time.perf_counter() - started, 3)
    return result
