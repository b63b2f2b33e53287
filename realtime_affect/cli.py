"""``affect-live``: annotate videos, streams and images (and, later, cameras) from the command line.

Exit codes: 0 done; 1 unexpected internal error; 2 bad input, output or model (one-line message);
130 stopped by Ctrl-C (SIGINT); 143 stopped by SIGTERM. Interrupted runs keep every processed frame.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 130, 143

log = logging.getLogger("realtime_affect")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="affect-live",
        description="Per-face expressions, action units and valence/arousal for videos, streams and images.")
    src = p.add_argument_group("input (one kind per run)")
    src.add_argument("--video", nargs="+", metavar="PATH|URL", help="video files or stream URLs (rtsp://...)")
    src.add_argument("--images", nargs="+", metavar="DIR|FILE", help="image folders or image files")
    out = p.add_argument_group("output")
    out.add_argument("--csv", metavar="PATH", help="write one row per face per frame")
    out.add_argument("--overwrite", action="store_true", help="replace existing output files")
    out.add_argument("--no-display", action="store_true", help="never open a window")
    mdl = p.add_argument_group("model")
    mdl.add_argument("--model", metavar="PATH", help="model file (default: the bundled model)")
    mdl.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime", "tensorrt"))
    mdl.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    mdl.add_argument("--no-temporal", action="store_true", help="per-frame predictions only (skip the GRU)")
    trk = p.add_argument_group("faces")
    trk.add_argument("--max-faces", type=int, default=4, metavar="N", help="faces per frame (largest kept)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks on errors")
    return p


class _Stop:
    """SIGINT/SIGTERM set a flag checked between frames; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        self.event.set()

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


@dataclass
class _Totals:
    frames: int = 0
    rows: int = 0
    tracks: set = field(default_factory=set)
    truncated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _setup_logging(verbose: bool, console) -> None:
    from rich.logging import RichHandler

    handler = RichHandler(console=console, show_time=False, show_path=False, markup=False,
                          rich_tracebacks=False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler],
                        format="%(message)s", force=True)
    if not verbose:
        for noisy in ("absl",):
            logging.getLogger(noisy).setLevel(logging.ERROR)


def _progress(console, quiet: bool):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[fps]:>6.1f} fps"), TextColumn("faces {task.fields[faces]}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=quiet, transient=False)


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console

    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    _setup_logging(args.verbose, console)
    if not args.video and not args.images:
        parser.error("give an input: --video PATH|URL ... or --images DIR ...")
    if args.video and args.images:
        parser.error("give either --video or --images, not both")
    if args.max_faces < 1:
        parser.error("--max-faces must be at least 1")
    if not args.csv:
        log.warning("no output file given (--csv): results are computed but not saved")
    stop = _Stop()
    stop.install()
    try:
        return _run(args, console, stop)
    except KeyboardInterrupt:
        console.print("[yellow]stopped[/]")
        return EXIT_SIGINT
    except Exception as exc:  # every error reaches the user as one line
        return _report(exc, args.verbose)
    finally:
        stop.restore()


def _report(exc: BaseException, verbose: bool) -> int:
    from engines.backends.base import BackendError
    from engines.card import CardError

    from .assets import AssetError
    from .models.checkpoint import ModelFileError
    from .sinks import SinkError
    from .sources import SourceError

    expected = (SourceError, SinkError, BackendError, CardError, ModelFileError, AssetError)
    if verbose:
        log.exception("details")
    if isinstance(exc, expected):
        sys.stderr.write(f"affect-live: error: {exc}\n")
        return EXIT_USAGE
    sys.stderr.write(f"affect-live: internal error: {type(exc).__name__}: {exc} (run with -v for details)\n")
    return EXIT_INTERNAL


def _run(args: argparse.Namespace, console, stop: _Stop) -> int:
    from engines.loader import open_model

    from .models.defaults import resolve_model
    from .pipeline import AnalyzerOptions
    from .runner import analyze_images, analyze_video
    from .sinks.csv_sink import CsvSink
    from .sources import SourceError, VideoSource, is_stream_url, list_images
    from .timing import StageTimer

    # Check every input before any work, so a typo fails fast.
    image_paths: list[Path] = []
    if args.images:
        for location in args.images:
            image_paths.extend(list_images(location))
    else:
        for location in args.video:
            if not is_stream_url(location):
                from .sources import _check_readable_file

                _check_readable_file(Path(location))
    options = AnalyzerOptions(max_faces=args.max_faces, temporal=not args.no_temporal)
    timer = StageTimer()
    totals = _Totals()
    started = time.perf_counter()
    with ExitStack() as stack:
        sinks = []
        if args.csv:
            sinks.append(stack.enter_context(CsvSink(args.csv, overwrite=args.overwrite)))
        model = stack.enter_context(open_model(resolve_model(args.model), backend=args.backend, device=args.device))
        progress = stack.enter_context(_progress(console, args.quiet))

        def consume(results, task, name: str) -> None:
            t0 = time.perf_counter()
            done = 0
            for result in results:
                with timer.stage("sink"):
                    for sink in sinks:
                        sink.write(result)
                done += 1
                totals.frames += 1
                totals.rows += len(result.faces)
                totals.tracks.update((name, f.track_id) for f in result.faces)
                fps = done / max(time.perf_counter() - t0, 1e-9)
                progress.update(task, advance=1, fps=fps, faces=len(result.faces))

        if image_paths:
            task = progress.add_task("images", total=len(image_paths), fps=0.0, faces=0)
            consume(analyze_images(model, image_paths, options, timer, stop.event), task, "images")
        else:
            for location in args.video:
                if stop.event.is_set():
                    break
                try:
                    source = stack.enter_context(VideoSource(location))
                except SourceError as exc:
                    if len(args.video) == 1:
                        raise
                    log.error("%s", exc)
                    totals.failed.append(location)
                    continue
                task = progress.add_task(source.name[-30:], total=source.info.frames, fps=0.0, faces=0)
                consume(analyze_video(model, source, options, timer, stop.event), task, location)
                if source.truncated:
                    totals.truncated.append(source.name)
                source.close()
    elapsed = time.perf_counter() - started
    if not args.quiet:
        _summary(console, totals, timer, elapsed, args.csv)
    if stop.signal is not None:
        return EXIT_SIGTERM if stop.signal == signal.SIGTERM else EXIT_SIGINT
    return EXIT_USAGE if totals.failed else EXIT_OK


def _summary(console, totals: _Totals, timer, elapsed: float, csv_path: str | None) -> None:
    stages = ", ".join(f"{k} {v:.1f}" for k, v in timer.per_frame().items())
    console.print(f"{totals.frames} frames, {totals.rows} face rows, {len(totals.tracks)} tracks in "
                  f"{elapsed:.1f} s ({totals.frames / max(elapsed, 1e-9):.1f} fps)"
                  + (f" -> {csv_path}" if csv_path else ""))
    if stages:
        console.print(f"ms per frame: {stages}")
    for name in totals.truncated:
        console.print(f"[yellow]{name}: the file breaks part way; annotated up to the break[/]")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
