"""Run batch jobs as Ray tasks (the optional ``[ray]`` extra): on this machine (a local Ray on loopback, no
dashboard) or on an existing cluster (``--ray ADDRESS``).

Each Ray worker process opens the model once and keeps it for the tasks it runs; a task whose worker dies
is retried by Ray (``max_retries``). On a multi-node cluster, every node must read the inputs and write the
output folder at the same paths (a shared file system), and have this package and its model installed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from realtime_affect.batch.inputs import BatchInput
from realtime_affect.batch.job import JobOptions, JobResult

#: Ray retries a task this many times when its worker process dies.
MAX_RETRIES = 2
_cache: dict = {}


class RayMissing(RuntimeError):
    """Ray is not installed."""


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise RayMissing("--ray needs Ray: pip install 'realtime-affect[ray]'") from exc
    return ray


def _task(item: BatchInput, out_dir: str, options: JobOptions) -> dict:
    from realtime_affect.batch.job import annotate, open_job_model

    key = repr(options)
    if key not in _cache:
        _cache.clear()
        _cache[key] = open_job_model(options)
    return annotate(item, Path(out_dir), _cache[key], options).to_dict()


def run_ray(items: Sequence[BatchInput], out_dir: Path, options: JobOptions, address: str | None, workers: int,
            stop, on_result: Callable[[JobResult], None]) -> None:
    """Annotate ``items`` as Ray tasks, ``workers`` at a time on a local Ray (one CPU each), or as the
    cluster schedules them; ``stop`` (an Event) cancels what has not finished."""
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
    try:
        remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_task)
        refs = {remote.remote(item, str(out_dir), options): item for item in items}
        while refs:
            if stop.is_set():
                for ref in refs:
                    ray.cancel(ref, force=True)
                for item in refs.values():
                    on_result(JobResult(item.location, item.output, "interrupted"))
                return
            done, _ = ray.wait(list(refs), num_returns=1, timeout=0.2)
            for ref in done:
                item = refs.pop(ref)
                try:
                    on_result(JobResult(**ray.get(ref)))
                except Exception as exc:  # the task failed even after its retries
                    on_result(JobResult(item.location, item.output, "failed",
                                        error=f"Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"))
    finally:
        if started_here:
            ray.shutdown()
