"""``affect-batch INPUT... --out DIR``: one output per input, local worker processes or Ray, ``--resume``.

Exit codes: 0 every input done (or skipped as complete); 2 bad arguments; 3 some inputs failed (the others
are complete; the failures are in DIR/summary.json); 130 / 143 interrupted (finished outputs kept). The others
as every command (``realtime_affect.console``).
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

from realtime_affect.analysis.flags import add_analysis_flags, add_model_flags, add_source_flags, analysis_options
from realtime_affect.console import (  # noqa: F401
                                     EXIT_INTERNAL,
                                     EXIT_OK,
                                     EXIT_SIGINT,
                                     EXIT_SIGTERM,
                                     EXIT_USAGE,
                                     EXIT_WRITE,
)

log = logging.getLogger("realtime_affect")

#: Some inputs failed; the others are complete.
EXIT_FAILED = 3
#: The Ray cluster went away mid-run (its head node lost): what was done is kept, ``--resume`` goes on.
EXIT_CLUSTER_LOST = 75


def build_parser() -> argparse.ArgumentParser:
    from realtime_affect.console import add_version_flag
    from realtime_affect.system.cores import usable_cores

    p = argparse.ArgumentParser(prog="affect-batch", description="Annotate many video files: one CSV or Parquet "
                                "file per input, rows identical to affect-live --video X --csv.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, folders (searched recursively) or a "
                   ".txt file listing paths or URLs, one per line")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--format", default="csv", choices=("csv", "parquet"))
    p.add_argument("--workers", type=int, default=default_workers(usable_cores()), metavar="N",
                   help="local worker processes (default: %(default)s on this machine)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run as Ray tasks: a local Ray without ADDRESS, or join the cluster at ADDRESS")
    p.add_argument("--resume", action="store_true", help="skip inputs whose output is complete and unchanged")
    p.add_argument("--driver", action="store_true",
                   help="driver monitoring per input: NAME.driver.csv (signals) and NAME.events.jsonl (events), as "
                        "affect-driver --csv --events; the summary counts events per kind per hour of video")
    p.add_argument("--driver-config", metavar="FILE", help="with --driver: thresholds as JSON or TOML "
                   "(affect-driver --config)")
    add_model_flags(p, backends=("auto", "torch", "onnxruntime"), device=False)
    add_analysis_flags(p, sampling=True)
    add_source_flags(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("-v", "--verbose", action="store_true")
    add_version_flag(p)
    return p


def default_workers(cores: int) -> int:
    """One worker per core: on 2 cores, 2 workers ran 1.56x the throughput of 1 (benchmarks/bench_batch.py,
    docs/scaling.md); each holds about 0.6 GB."""
    return max(1, cores)


class _Interrupt:
    """First SIGINT/SIGTERM: set the stop flag (jobs end between frames); a second Ctrl-C: stop at once."""

    def __init__(self, stop) -> None:
        self.stop = stop
        self.signal: int | None = None

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._handle)
            signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        if self.stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        self.stop.set()


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console

    from realtime_affect.batch.inputs import BatchInputError, assign_outputs, expand
    from realtime_affect.batch.job import DRIVER_SUFFIX, FORMATS, JobOptions, JobResult, is_complete
    from realtime_affect.batch.local import run_local, threads_per_worker
    from realtime_affect.batch.summary import write_summary
    from realtime_affect.console import setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    setup_logging(args.verbose, console)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    analysis = analysis_options(parser, args)
    if args.driver_config and not args.driver:
        parser.error("--driver-config goes with --driver")
    if args.driver and args.format != "csv":
        parser.error("--driver writes CSV signals and JSON-lines events: leave --format out")
    driver = None
    if args.driver:
        from realtime_affect.driver.config import ConfigError, DriverConfig, load_config

        try:
            driver = load_config(args.driver_config) if args.driver_config else DriverConfig()
        except ConfigError as exc:
            sys.stderr.write(f"affect-batch: error: {exc}\n")
            return EXIT_USAGE
    if args.ray is not None:
        from realtime_affect.system.extras import MissingExtra, require_extra

        try:
            require_extra("ray", "--ray")
        except MissingExtra as exc:
            sys.stderr.write(f"affect-batch: error: {exc}\n")
            return EXIT_USAGE
    out_dir: Path = args.out
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise BatchInputError(f"{out_dir}: exists and is not a folder")
        items = assign_outputs(expand(args.inputs), DRIVER_SUFFIX if args.driver else FORMATS[args.format])
        _refuse_inputs_as_outputs(items, out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        check_writable(out_dir)
    except (BatchInputError, OSError) as exc:
        sys.stderr.write(f"affect-batch: error: {exc}\n")
        return EXIT_USAGE
    options = JobOptions(analysis=analysis, model=args.model, backend=args.backend, format=args.format,
                         threads=1 if args.ray else threads_per_worker(args.workers), driver=driver,
                         reconnect_s=args.reconnect)
    try:  # a bad model is the user's argument, not every input's failure: check it once, here
        check_model(options)
    except Exception as exc:
        sys.stderr.write(f"affect-batch: error: {exc}\n")
        return EXIT_USAGE
    results: list[JobResult] = []
    todo = []
    for item in items:
        if args.resume and is_complete(out_dir, item):
            results.append(JobResult(item.location, item.output, "skipped"))
        else:
            todo.append(item)
    from realtime_affect.system.tempdirs import remove_stale

    remove_stale()  # temporary folders of earlier runs that were killed
    # local workers are processes that share the stop flag; Ray tasks are cancelled by the driver itself (and a
    # lost head ends the driver with os._exit, which must leave no semaphore behind)
    stop = threading.Event() if args.ray is not None else mp.get_context("spawn").Event()
    interrupt = _Interrupt(stop)
    interrupt.install()
    started = time.time()
    lost: str | None = None
    runner = "ray" if args.ray is not None else f"local x{args.workers}"
    with _Progress(console, args.quiet, todo) as progress:
        def on_result(result: JobResult) -> None:
            results.append(result)
            progress.finished(result)

        try:
            if args.ray is not None:
                from realtime_affect.batch.ray_runner import ClusterError, ClusterLost, RayMissing, run_ray

                try:
                    run_ray(todo, out_dir, options, args.ray or None, args.workers, stop, on_result,
                            progress.cluster, on_connected=interrupt.install, verbose=args.verbose > 0)
                except ClusterLost as exc:
                    progress.close()
                    lost = str(exc)
                except (RayMissing, ClusterError) as exc:
                    progress.close()
                    sys.stderr.write(f"affect-batch: error: {exc}\n")
                    return EXIT_USAGE
            else:
                run_local(todo, out_dir, options, args.workers, stop, progress.frames, on_result)
        except KeyboardInterrupt:
            interrupt.signal = signal.SIGINT
    finished = {r.input for r in results}
    for item in todo:  # never started (interrupted before their turn)
        if item.location not in finished:
            results.append(JobResult(item.location, item.output, "interrupted"))
    code = EXIT_CLUSTER_LOST if lost else _exit_code(results, interrupt.signal)
    order = {item.location: i for i, item in enumerate(items)}
    results.sort(key=lambda r: order.get(r.input, len(order)))
    try:
        summary = write_summary(out_dir, results, started, code, runner)
    except OSError as exc:
        sys.stderr.write(f"affect-batch: error: {out_dir / 'summary.json'}: write failed ({exc.strerror}); the "
                         f"finished outputs and their manifest are kept, --resume goes on\n")
        return EXIT_WRITE
    if not args.quiet:
        _print_summary(console, results, summary, time.time() - started)
    for r in results:
        if r.status == "failed":
            what = r.error if r.error and r.error.startswith(r.input) else f"{r.input}: {r.error}"
            sys.stderr.write(f"affect-batch: failed: {what}\n")
    if lost:
        sys.stderr.write(f"affect-batch: error: {lost}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(code)  # Ray's exit handlers would wait a minute for the lost head, then print its own dump
    elif interrupt.signal is not None:
        done = sum(r.status in ("done", "skipped") for r in results)
        sys.stderr.write(f"affect-batch: stopped by {signal.Signals(interrupt.signal).name}: {done} of "
                         f"{len(results)} inputs done ({summary}); run again with --resume to finish\n")
    return code


def check_writable(out_dir: Path) -> None:
    """Refuse (one line, before any work) an output folder this process cannot write in: a read-only mount,
    no permission, a full disk."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".affect-write-check-"):
            pass
    except OSError as exc:
        raise OSError(f"{out_dir}: cannot write in this folder ({exc.strerror}); choose another --out") from None


def check_model(options) -> None:
    """Open and close the model once (a missing or damaged file fails here, with its message)."""
    from realtime_affect.batch.job import open_job_model

    open_job_model(options).close()


def _refuse_inputs_as_outputs(items, out_dir: Path) -> None:
    from realtime_affect.batch.inputs import BatchInputError
    from realtime_affect.sinks import SinkError, check_outputs

    try:
        check_outputs([out_dir / item.output for item in items], [i.location for i in items
                                                                  if "://" not in i.location])
    except SinkError as exc:
        raise BatchInputError(str(exc)) from exc


def _exit_code(results, sig: int | None) -> int:
    if sig is not None:
        return EXIT_SIGTERM if sig == signal.SIGTERM else EXIT_SIGINT
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


def _print_summary(console, results, summary: Path, seconds: float) -> None:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    frames = sum(r.frames for r in results if r.status == "done")
    console.print(f"{len(results)} inputs: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
                  + f"; {frames} frames in {seconds:.1f} s ({frames / max(seconds, 1e-9):.1f} fps) -> {summary}")
    driven = [r for r in results if r.status == "done" and r.events is not None]
    if driven:
        from realtime_affect.batch.summary import driver_summary

        d = driver_summary(driven)
        kinds = ", ".join(f"{k} {n} ({d['per_hour'].get(k, 0.0):g}/h)" for k, n in d["events"].items()) or "none"
        console.print(f"driver: {d['hours'] * 60:.1f} min of video; events: {kinds}")
        for entry in [e for e in d["inputs"] if e["events"]][:5]:  # the drives to look at first
            console.print(f"  {entry['events_file']}: " + ", ".join(f"{k} {n}" for k, n in entry["events"].items()))


class _Progress:
    """One overall bar: files done of all, frames, fps and time left (rich); silent with ``quiet``."""

    def __init__(self, console, quiet: bool, items) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.total_frames = sum(_frame_count(i.location) for i in items)
        self.progress = Progress(TextColumn("[bold]files {task.fields[files]}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("frames"),
                                 TextColumn("{task.fields[fps]:>6.1f} fps"), TextColumn("{task.fields[nodes]}"),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=quiet,
                                 transient=False)
        self.count, self.done_files, self.start = len(items), 0, time.perf_counter()
        self.frames_done = 0
        self.task = None

    def __enter__(self) -> "_Progress":
        self.progress.__enter__()
        self.task = self.progress.add_task("batch", total=self.total_frames or None,
                                           files=f"0/{self.count}", fps=0.0, nodes="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.task is not None:
            self.progress.__exit__(None, None, None)
            self.task = None

    def cluster(self, report) -> None:
        """Frames and fps across a Ray cluster, and the nodes whose workers reported lately."""
        if self.task is None:
            return
        self.frames_done = report.frames
        self.progress.update(self.task, completed=report.frames, fps=report.fps,
                             nodes=f"{report.nodes} node{'s' if report.nodes != 1 else ''}")

    def frames(self, _location: str, n: int) -> None:
        if self.task is None:
            return
        self.frames_done += n
        fps = self.frames_done / max(time.perf_counter() - self.start, 1e-9)
        self.progress.update(self.task, advance=n, fps=fps)

    def finished(self, result) -> None:
        if self.task is None:
            return
        self.done_files += 1
        self.progress.update(self.task, files=f"{self.done_files}/{self.count}")


def _frame_count(location: str) -> int:
    """Frames in a video from its header, as ``VideoSource`` probes it (0 when unknown or unreadable): only
    for the progress bar."""
    from realtime_affect.sources import VideoSource

    try:
        with VideoSource(location, open_timeout_s=5.0) as source:
            return source.info.frames or 0
    except Exception:  # probing is best effort; the job reports real errors
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
