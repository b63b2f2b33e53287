"""Run batch jobs as Ray tasks (the optional ``[ray]`` extra): on a local Ray or on a running cluster.

Nothing needs to be shared between the nodes but this package (installed on every node, same version):
- the model files travel from the driver through Ray's object store once (``ray.put``) and each worker
  process writes them to a temporary folder, opens them once and removes the folder (the model is in memory);
- each local input file travels the same way when its task is submitted (at most ``in_flight`` at a time, so
  the object store holds a few files, not the whole batch); stream URLs are read by the worker itself;
- each output comes back to the driver as bytes and is written there (temporary name, rename, manifest),
  so ``--out`` is a folder on the driver's machine and ``--resume`` works as with local workers.
A task whose worker or node dies is retried by Ray (``MAX_RETRIES``) on the nodes left. Workers report
frames as they go (with their node) to a small queue actor on the driver's node, for the progress bar.
Every task works in a temporary folder named after its worker process, removed when the task ends; a task that
is killed (cancelled, its node lost) leaves its folder, which the next task to start there removes
(``system.tempdirs``).
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from realtime_affect.batch.inputs import BatchInput
from realtime_affect.batch.job import JobOptions, JobResult, events_name, store_output
from realtime_affect.batch.ray_connect import (
                                               ClusterError,
                                               ClusterLost,
                                               RayMissing,
                                               connect,
                                               import_ray,
                                               missing_package,
)
from realtime_affect.sources import is_stream_url
from realtime_affect.system.tempdirs import owned_tempdir, remove_stale

log = logging.getLogger(__name__)

#: Ray retries a task this many times when its worker process or node dies.
MAX_RETRIES = 3
#: Frames between two progress reports of a worker.
REPORT_EVERY = 25
#: The head node is taken as lost after this long without answering (Ray itself waits 60 s, then ends the
#: driver's process without a word of ours).
HEAD_LOST_AFTER_S = 5.0
_models: dict[str, object] = {}  # per worker process: model digest -> opened model


@dataclass
class ClusterProgress:
    """What the workers reported: frames done, and the nodes that reported in the last ``recent_s`` seconds."""

    frames: int = 0
    started: float = field(default_factory=time.perf_counter)
    last_seen: dict[str, float] = field(default_factory=dict)
    recent_s: float = 15.0

    def add(self, node: str, frames: int) -> None:
        self.frames += frames
        self.last_seen[node] = time.perf_counter()

    @property
    def fps(self) -> float:
        return self.frames / max(time.perf_counter() - self.started, 1e-9)

    @property
    def nodes(self) -> int:
        now = time.perf_counter()
        return sum(1 for t in self.last_seen.values() if now - t <= self.recent_s)


def model_files(options: JobOptions) -> dict[str, bytes]:
    """The model file the batch uses and the files it needs beside it (an ONNX student's sequence model)."""
    from realtime_affect.models.backends.onnxruntime import sequence_path_for
    from realtime_affect.models.defaults import resolve_model

    path = Path(resolve_model(options.model, options.backend))
    files = {path.name: path.read_bytes()}
    if path.suffix == ".onnx":
        sequence = sequence_path_for(path)
        if sequence.is_file():
            files[sequence.name] = sequence.read_bytes()
    return files


def _model_here(files: dict[str, bytes], options: JobOptions):
    """This worker's copy of the shipped model, written and opened once per worker process."""
    from dataclasses import replace

    from realtime_affect.batch.job import open_job_model

    digest = hashlib.sha256(b"".join(files[name] for name in sorted(files))).hexdigest()[:16]
    key = f"{digest}:{options.backend}:{options.threads}"
    if key not in _models:
        for model in _models.values():  # another model now: the old one goes
            model.close()
        _models.clear()
        folder = owned_tempdir("model")
        try:
            for name, data in files.items():
                (folder / name).write_bytes(data)
            main = next(name for name in files if not name.endswith(".sequence.onnx"))
            _models[key] = open_job_model(replace(options, model=str(folder / main)))
        finally:  # opened: the model is in memory, the files are not needed any more
            shutil.rmtree(folder, ignore_errors=True)
    return _models[key]


def _task(item: BatchInput, options: JobOptions, files: dict[str, bytes], data: bytes | None, queue) -> tuple:
    """One input on a Ray worker: (the ``JobResult`` as a dict, the output file's bytes or None)."""
    import ray

    from realtime_affect.batch.job import annotate

    remove_stale()  # folders of this machine's killed tasks
    model = _model_here(files, options)
    node = ray.get_runtime_context().get_node_id()

    def report(n: int) -> None:
        try:
            queue.put_nowait((node, n))
        except Exception:  # progress is best effort: a lost queue never fails the job
            pass

    tmp = owned_tempdir("job")
    try:
        location = item.location
        if data is not None:  # the driver's file, under its own name (the rows' source column)
            local = Path(tmp) / "in" / Path(item.location).name
            local.parent.mkdir()
            local.write_bytes(data)
            location = str(local)
        result = annotate(BatchInput(location, item.output), Path(tmp), model, options, on_frames=report)
        result.input = item.location
        output = None
        if result.status == "done":
            names = [item.output] + ([events_name(item.output)] if options.driver is not None else [])
            output = {name: (Path(tmp) / name).read_bytes() for name in names}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result.to_dict(), output


def _input_bytes(item: BatchInput) -> bytes | None:
    """A local input's bytes (shipped to the worker); None for a stream URL (the worker reads it itself)."""
    return None if is_stream_url(item.location) else Path(item.location).read_bytes()


class HeadWatch:
    """Checks, once a second in a thread, that the head node at ``HOST:PORT`` still accepts connections;
    ``lost`` is set after ``lost_after_s`` without an answer."""

    def __init__(self, address: str | None, lost_after_s: float = HEAD_LOST_AFTER_S) -> None:
        import threading

        self.address, self.lost_after_s = address, lost_after_s
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = None
        host, sep, port = (address or "").rpartition(":")
        if sep and port.isdigit() and "://" not in (address or ""):
            self._target = (host.strip("[]") or "127.0.0.1", int(port))
            self._thread = threading.Thread(target=self._watch, name="ray-head-watch", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        import socket

        silent_since = None
        while not self._done.wait(1.0):
            try:
                socket.create_connection(self._target, timeout=1.0).close()
                silent_since = None
            except OSError:
                silent_since = silent_since or time.monotonic()
                if time.monotonic() - silent_since >= self.lost_after_s:
                    self.lost.set()
                    return

    def close(self) -> None:
        self._done.set()


def run_ray(items: Sequence[BatchInput], out_dir: Path, options: JobOptions, address: str | None, workers: int,
            stop, on_result: Callable[[JobResult], None],
            on_progress: Callable[[ClusterProgress], None] | None = None,
            on_connected: Callable[[], None] | None = None, verbose: bool = False) -> None:
    """Annotate ``items`` as Ray tasks, ``workers`` at a time on a local Ray (one CPU each), or as the
    cluster schedules them; ``stop`` (an Event) cancels what has not finished. Raises ``ClusterError`` (one
    line) when the cluster cannot be joined or its workers cannot run this package, ``ClusterLost`` when the head
    node stops answering mid-run (what is not finished is reported ``interrupted``). ``on_connected`` runs once
    Ray is up (Ray installs its own SIGTERM handler in ``ray.init``: the caller puts its own back there)."""
    started_here = connect(address, workers, verbose)  # before Ray is imported: it reads its settings then
    ray = import_ray()
    if on_connected is not None:
        on_connected()
    watch = HeadWatch(address)
    try:
        _run(ray, items, Path(out_dir), options, stop, on_result, on_progress, watch, address)
    finally:
        watch.close()
        if started_here and not watch.lost.is_set():
            ray.shutdown()


def _run(ray, items, out_dir: Path, options: JobOptions, stop, on_result, on_progress, watch: HeadWatch,
         address: str | None) -> None:
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    queue = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": NodeAffinitySchedulingStrategy(here, soft=False)})
    files = ray.put(model_files(options))
    remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_task)
    in_flight = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    waiting = list(items)
    refs: dict = {}
    progress = ClusterProgress()
    try:
        while waiting or refs:
            while waiting and len(refs) < in_flight and not stop.is_set():
                item = waiting.pop(0)
                try:
                    data = _input_bytes(item)
                except OSError as exc:
                    on_result(JobResult(item.location, item.output, "failed", error=f"{item.location}: {exc}"))
                    continue
                refs[remote.remote(item, options, files, data, queue)] = item
            if watch.lost.is_set():
                for item in [*refs.values(), *waiting]:
                    on_result(JobResult(item.location, item.output, "interrupted"))
                raise ClusterLost(f"the Ray cluster at {address} stopped answering (its head node is lost?) "
                                  f"after {watch.lost_after_s:g}s; finished outputs are kept, run again with "
                                  "--resume once the cluster is back")
            if stop.is_set():
                for ref in refs:
                    ray.cancel(ref, force=True)
                for item in [*refs.values(), *waiting]:
                    on_result(JobResult(item.location, item.output, "interrupted"))
                return
            try:
                done, _ = ray.wait(list(refs), num_returns=1, timeout=0.2)
            except Exception:  # noqa: BLE001 - the cluster itself failing: a lost head is told as such
                if watch.lost.wait(watch.lost_after_s + 2.0):
                    continue
                raise
            _drain(queue, progress, on_progress)
            for ref in done:
                item = refs.pop(ref)
                on_result(_collect(ray, ref, item, out_dir))
    finally:
        try:
            if not watch.lost.is_set():  # with the head gone, Ray's calls wait for it
                queue.shutdown(force=True)
        except Exception:  # noqa: BLE001 - the queue dies with the cluster connection anyway
            pass


def _drain(queue, progress: ClusterProgress, on_progress) -> None:
    try:
        reports = queue.get_nowait_batch(queue.qsize()) if queue.qsize() else []
    except Exception:  # noqa: BLE001 - progress only
        reports = []
    for node, n in reports:
        progress.add(node, n)
    if on_progress is not None:
        on_progress(progress)


def _collect(ray, ref, item: BatchInput, out_dir: Path) -> JobResult:
    """The finished task's result, its output written here; a task that failed even after its retries is a
    failed input, unless the workers cannot import this package (then the whole batch stops)."""
    try:
        record, output = ray.get(ref)
    except Exception as exc:  # noqa: BLE001
        missing = missing_package(exc)
        if missing:
            raise ClusterError(missing) from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return JobResult(item.location, item.output, "failed", error=f"Ray task failed: {type(exc).__name__}: {first}")
    result = JobResult(**record)
    if result.status == "done" and output is not None:
        try:
            store_output(out_dir, item, result, output)
        except OSError as exc:
            result.status, result.error = "failed", f"{out_dir / item.output}: cannot write ({exc})"
    return result


__all__ = ["run_ray", "ClusterProgress", "ClusterError", "ClusterLost", "HeadWatch", "RayMissing", "model_files", "MAX_RETRIES"]
