"""``affect-live``: live camera window, and annotation of videos, streams and images, from the command line.

Exit codes (``realtime_affect.console``): 0 done; 1 unexpected internal error; 2 bad input, option, output,
model or set-up (one-line message); 74 an output could not be written (disk full, read-only); 130 stopped by
Ctrl-C (SIGINT); 143 stopped by SIGTERM. Interrupted runs keep every processed frame.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from realtime_affect.analysis.flags import add_analysis_flags, add_model_flags, add_source_flags, analysis_options
from realtime_affect.console import (
    EXIT_OK,
    EXIT_USAGE,
    StopSignals,
    progress_bar,
    report_error,
    run_guarded,
    setup_logging,
    stopped_exit_code,
)

log = logging.getLogger("realtime_affect")


def build_parser() -> argparse.ArgumentParser:
    from realtime_affect.console import add_version_flag

    p = argparse.ArgumentParser(
        prog="affect-live",
        description="Per-face expressions, action units and valence/arousal for videos, streams and images.")
    src = p.add_argument_group("input (one kind per run)")
    src.add_argument("--video", nargs="+", metavar="PATH|URL", help="video files or stream URLs (rtsp://...)")
    src.add_argument("--images", nargs="+", metavar="DIR|FILE", help="image folders or image files")
    src.add_argument("--camera", metavar="INDEX|DEVICE", help="live camera: an index such as 0, or /dev/videoN")
    out = p.add_argument_group("output")
    out.add_argument("--csv", metavar="PATH", help="write one row per face per frame")
    out.add_argument("--jsonl", metavar="PATH", help="write one JSON object per frame with all its faces")
    out.add_argument("--parquet", metavar="PATH", help="write the CSV's rows as a typed Parquet file")
    out.add_argument("--out", metavar="PATH", help="write an annotated H.264 video (same frames and timing)")
    out.add_argument("--out-size", choices=("auto", "input"), default="auto",
                     help="--out's size: auto (at least 720 px on the shorter side, text at least 12 px; the "
                          "default) or input (the input's size)")
    out.add_argument("--overwrite", action="store_true", help="replace existing output files")
    out.add_argument("--no-display", action="store_true", help="never open a window")
    out.add_argument("--serve", type=int, metavar="PORT",
                     help="also stream every analysed frame as JSON on ws://HOST:PORT/ws/results (and the dashboard "
                          "at http://HOST:PORT/); needs the [serve] extra")
    out.add_argument("--serve-host", default="127.0.0.1", metavar="HOST",
                     help="address for --serve (default 127.0.0.1; any other needs the printed token)")
    add_model_flags(p)
    add_analysis_flags(p, sampling=True)
    add_source_flags(p)
    p.add_argument("--lookahead", type=int, default=0, metavar="K",
                   help="camera: report each frame K frames late, with K frames of future context")
    bl = p.add_argument_group("per-person baseline (readings relative to the person's own neutral face)")
    bl.add_argument("--baseline-from", nargs="+", metavar="FILE",
                    help="images or a video of the person's neutral face: every face of the run is read relative "
                         "to it (one-person use)")
    bl.add_argument("--baseline", choices=("auto",),
                    help="auto: each tracked face learns its own neutral from its calmest frames (video, camera)")
    bl.add_argument("--load-baseline", metavar="FILE", help="use a baseline saved with --save-baseline")
    bl.add_argument("--save-baseline", metavar="FILE",
                    help="keep the baseline measured by --baseline-from (or learnt by --baseline auto) in this JSON "
                         "file under --person; other people in the file are kept")
    bl.add_argument("--person", metavar="NAME", help="whose baseline to save or load")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks on errors")
    add_version_flag(p)
    return p


@dataclass
class _Totals:
    frames: int = 0
    rows: int = 0
    tracks: set = field(default_factory=set)
    truncated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console

    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    setup_logging(args.verbose, console)
    given = [name for name in ("video", "images", "camera") if getattr(args, name)]
    _check_baseline_args(parser, args, given)
    if not given and args.baseline_from and args.save_baseline:
        return run_guarded(lambda stop: _calibrate_only(args, console, stop), console, args.verbose)
    if not given:
        parser.error("give an input: --camera 0, --video PATH|URL ... or --images DIR ...")
    if len(given) > 1:
        parser.error("give one kind of input: --camera, --video or --images")
    options = analysis_options(parser, args)
    if args.lookahead < 0:
        parser.error("--lookahead must be 0 or more")
    if args.out and args.images:
        parser.error("--out writes a video: use it with --video or --camera")
    if args.serve is not None:
        if not 0 <= args.serve <= 65535:
            parser.error("--serve takes a port between 0 and 65535")
        from realtime_affect.serve.server import require_serve_extra

        try:
            require_serve_extra()
        except RuntimeError as exc:
            parser.error(str(exc))
    if args.sample_fps is not None and not args.video:
        parser.error("--sample-fps goes with --video")
    saved = args.csv or args.jsonl or args.parquet or args.out or args.serve is not None
    if not saved and (args.no_display or not args.camera and args.images):
        log.warning("no output file given (--csv, --jsonl, --parquet, --out): results are computed but not saved")
    return run_guarded(lambda stop: _run(args, options, console, stop), console, args.verbose)


def _check_baseline_args(parser: argparse.ArgumentParser, args: argparse.Namespace, given: list[str]) -> None:
    chosen = [flag for flag, value in (("--baseline-from", args.baseline_from), ("--baseline auto", args.baseline),
                                       ("--load-baseline", args.load_baseline)) if value]
    if len(chosen) > 1:
        parser.error(f"choose one baseline: {' or '.join(chosen)}")
    if args.baseline and "images" in given:
        parser.error("--baseline auto learns over time: use it with --video or --camera, or give the person's "
                     "neutral face with --baseline-from")
    if args.save_baseline:
        if not (args.baseline_from or args.baseline):
            parser.error("--save-baseline keeps a baseline measured by --baseline-from FILE... or --baseline auto")
        if not args.person:
            parser.error("--save-baseline needs --person NAME (a baseline file can hold several people)")
        if args.baseline and (len(args.video or []) > 1 or "images" in given):
            parser.error("--baseline auto with --save-baseline: give one video or the camera")
    if args.person and not (args.save_baseline or args.load_baseline):
        parser.error("--person names whose baseline to --save-baseline or --load-baseline")


def _model_for_baseline(args: argparse.Namespace, stack: ExitStack, threads=None):
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model

    return stack.enter_context(open_model(resolve_model(args.model, args.backend), backend=args.backend,
                                          device=args.device, threads=threads))


def _baseline_option(args: argparse.Namespace, model, console, stop: StopSignals):
    """What ``AnalyzerOptions.baseline`` gets from the flags (measuring or loading the baseline first)."""
    from realtime_affect.analysis.assembly import baseline_corrector
    from realtime_affect.runner import measure_baseline
    from realtime_affect.sources import check_readable_file
    from realtime_affect.temporal.baseline import check_baseline_file, load_baseline, model_key

    if args.save_baseline:
        check_baseline_file(args.save_baseline)
    if args.load_baseline:
        return load_baseline(args.load_baseline, args.person, model_key(model.card))
    if args.baseline_from:
        for path in args.baseline_from:
            check_readable_file(Path(path))
        reading = measure_baseline(model, args.baseline_from, stop=stop.event)
        if not args.quiet:
            console.print(f"baseline: the neutral face of {len(args.baseline_from)} file(s), {reading.frames} "
                          "face reading(s)")
        return reading
    if args.baseline == "auto" and args.save_baseline:  # one corrector, so its learnt baselines can be saved
        return baseline_corrector("auto", model.card, float(model.card.expression_temperature))
    return args.baseline


def _save_baseline(args: argparse.Namespace, baseline, model, console) -> None:
    """Keep the run's baseline under ``--person`` (auto: the track that learnt from the most frames)."""
    from realtime_affect.temporal.baseline import BaselineCorrector, NeutralReading, model_key, save_baseline

    reading = baseline
    if isinstance(baseline, BaselineCorrector):
        learnt = baseline.learnt()
        if not learnt:
            log.error("--save-baseline: no face was seen long enough to learn a baseline; nothing saved")
            return
        reading = max(learnt.values(), key=lambda r: r.frames)
    if isinstance(reading, NeutralReading):
        path = save_baseline(args.save_baseline, args.person, reading, model_key(model.card))
        if not args.quiet:
            console.print(f"saved the baseline of {args.person!r} to {path}")


def _calibrate_only(args: argparse.Namespace, console, stop: StopSignals) -> int:
    """``--baseline-from ... --save-baseline F --person P`` without an input: measure and save, nothing else."""
    with ExitStack() as stack:
        model = _model_for_baseline(args, stack)
        _save_baseline(args, _baseline_option(args, model, console, stop), model, console)
    return EXIT_OK


def _open_sinks(args: argparse.Namespace, stack: ExitStack, fps: float, sinks):
    """Open every output the flags ask for into ``sinks`` (a ``SinkSet``); each closes with ``stack``."""
    from realtime_affect.sinks.csv_sink import CsvSink
    from realtime_affect.sinks.jsonl_sink import JsonlSink
    from realtime_affect.sinks.video_sink import VideoSink

    if args.csv:
        sinks.add(stack.enter_context(CsvSink(args.csv, overwrite=args.overwrite)))
    if args.jsonl:
        sinks.add(stack.enter_context(JsonlSink(args.jsonl, overwrite=args.overwrite)))
    if args.parquet:
        from realtime_affect.sinks.parquet_sink import ParquetSink

        sinks.add(stack.enter_context(ParquetSink(args.parquet, overwrite=args.overwrite)))
    if args.out:
        sinks.add(stack.enter_context(VideoSink(args.out, fps=fps, overwrite=args.overwrite, size=args.out_size)))
    if args.serve is not None:
        sinks.add(_serve_sink(args, stack))
    return sinks


def _serve_sink(args: argparse.Namespace, stack: ExitStack):
    from rich.console import Console

    from realtime_affect.serve.live_sink import ServeSink
    from realtime_affect.sources import is_stream_url

    console = Console(stderr=True)
    pace = bool(args.video) and not all(is_stream_url(v) for v in args.video)
    sink = stack.enter_context(ServeSink(args.serve_host, args.serve,
                                         lambda text: console.print(f"[yellow]warning:[/] {text}"), pace=pace))
    console.print(f"streaming results on {sink.server.url('/ws/results')} (dashboard: {sink.server.url()})"
                  + ("; the video plays at its own speed" if pace else ""), soft_wrap=True)
    return sink


def _serve_replays(args: argparse.Namespace, sinks, inputs: dict[str, str], console, stop: StopSignals) -> bool:
    """``--serve`` with videos read to their end: offer each one's replay on the page, as ``affect-serve``
    does, and go on serving until Ctrl-C (then the run ends as complete: True)."""
    if args.serve is None or stop.event.is_set():
        return False
    from realtime_affect.serve.live_sink import ServeSink

    serve = next((s for s in sinks.sinks if isinstance(s, ServeSink)), None)
    if serve is None:
        return False
    serve.finish(inputs)
    if not args.quiet:
        console.print("finished: the page offers the replay; serving until Ctrl-C")
    stop.event.wait()
    return True


def _run(args: argparse.Namespace, options, console, stop: StopSignals) -> int:
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_camera, analyze_images, analyze_video
    from realtime_affect.sinks import SinkSet, check_outputs, prepare_output
    from realtime_affect.sources import (
        CameraSource,
        SourceError,
        VideoSource,
        check_readable_file,
        is_stream_url,
        list_images,
    )
    from realtime_affect.system.cores import model_threads
    from realtime_affect.timing import StageTimer
    from realtime_affect.ui.layout import WINDOW_MIN_SCALE
    from realtime_affect.ui.live_window import LiveWindow, display_available
    from realtime_affect.ui.overlay import OverlayState, draw

    # Check every input and output before any work, so a typo fails fast and nothing is half-written.
    image_paths: list[Path] = []
    if args.images:
        for location in args.images:
            image_paths.extend(list_images(location))
    elif args.video:
        for location in args.video:
            if not is_stream_url(location):
                check_readable_file(Path(location))
    outputs = [p for p in (args.csv, args.jsonl, args.parquet, args.out) if p]
    inputs = [*(image_paths or []), *[v for v in (args.video or []) if not is_stream_url(v)],
              *([args.model] if args.model else [])]
    check_outputs(outputs, inputs)
    for path in outputs:
        prepare_output(path, args.overwrite)
    show = not args.no_display and not args.images and (args.camera is not None or display_available())
    if args.camera is not None and not args.no_display and not display_available():
        raise SourceError("no display found for the live window: add --no-display and record with --csv, "
                          "--jsonl or --out")
    timer = StageTimer()
    totals = _Totals()
    sinks = SinkSet()
    started = time.perf_counter()
    served_to_the_end = False  # --serve: the videos ended, their replays were served until Ctrl-C
    analysed_until = None
    with ExitStack() as stack:
        # The window must exist before PyAV is imported (see ui/live_window.py).
        window = stack.enter_context(LiveWindow()) if show else None
        camera = stack.enter_context(CameraSource(args.camera)) if args.camera is not None else None
        model_path = resolve_model(args.model, args.backend)
        # Files: the landmarker runs a frame ahead in its own thread, so the model gets fewer threads
        # (system/cores.py); the camera runs one frame at a time and keeps the runtime's default.
        threads = None if camera is not None else model_threads()
        model = stack.enter_context(open_model(model_path, backend=args.backend, device=args.device,
                                               threads=threads))
        baseline = _baseline_option(args, model, console, stop)
        options.baseline = baseline
        progress = stack.enter_context(progress_bar(console, args.quiet or args.camera is not None))
        overlay = OverlayState()

        def consume(results, task, name: str) -> bool:
            """Write results to the sinks (and the window); False when the user closed the window."""
            t0 = time.perf_counter()
            done = 0
            for result in results:
                with timer.stage("sink"):
                    sinks.write(result)
                done += 1
                totals.frames += 1
                totals.rows += len(result.faces)
                totals.tracks.update((name, f.track_id) for f in result.faces)
                fps = done / max(time.perf_counter() - t0, 1e-9)
                latency = None
                if result.frame.captured_at is not None:
                    latency = (time.monotonic() - result.frame.captured_at) * 1000.0
                    totals.latencies.append(latency)
                if task is not None:
                    progress.update(task, advance=1, fps=fps, faces=len(result.faces))
                if window is not None and not window.show(
                        draw(result.frame.bgr, result, overlay, fps, latency, zoom=window.zoom_for(result.frame.bgr),
                             min_scale=WINDOW_MIN_SCALE)):
                    stop.event.set()
                    return False
            return True

        if camera is not None:
            _open_sinks(args, stack, 30.0, sinks)
            consume(analyze_camera(model, camera, options, args.lookahead, timer, stop.event), None, camera.name)
        elif image_paths:
            _open_sinks(args, stack, 30.0, sinks)
            task = progress.add_task("images", total=len(image_paths), fps=0.0, faces=0)
            consume(analyze_images(model, image_paths, options, timer, stop.event), task, "images")
        else:
            opened = False
            served_inputs: dict[str, str] = {}
            for location in args.video:
                if stop.event.is_set():
                    break
                try:
                    source = stack.enter_context(VideoSource(location, reconnect_s=args.reconnect))
                except SourceError as exc:
                    if len(args.video) == 1:
                        raise
                    log.error("%s", exc)
                    totals.failed.append(location)
                    continue
                if not opened:
                    _open_sinks(args, stack, source.info.fps, sinks)
                    opened = True
                total = source.info.frames
                if total and args.sample_fps and source.info.fps > args.sample_fps:
                    total = max(1, round(total * args.sample_fps / source.info.fps))  # about that many analysed
                served_inputs[source.name] = location
                task = progress.add_task(source.name[-30:], total=total, fps=0.0, faces=0)
                if not consume(analyze_video(model, source, options, timer, stop.event), task, location):
                    break
                if source.truncated:
                    totals.truncated.append(source.name)
                source.close()
            analysed_until = time.perf_counter()
            served_to_the_end = _serve_replays(args, sinks, served_inputs, console, stop)
        if args.save_baseline:
            _save_baseline(args, baseline, model, console)
    elapsed = (analysed_until if served_to_the_end else time.perf_counter()) - started
    if not args.quiet:
        _summary(console, totals, timer, elapsed, outputs)
    failed = [report_error(failure, args.verbose) for failure in sinks.failures]  # one line each
    stopped = stopped_exit_code(stop)
    if stopped is not None and not served_to_the_end:
        return stopped
    if totals.failed:
        return EXIT_USAGE
    return failed[0] if failed else EXIT_OK


def _summary(console, totals: _Totals, timer, elapsed: float, outputs: list) -> None:
    stages = ", ".join(f"{k} {v:.1f}" for k, v in timer.per_frame().items())
    console.print(f"{totals.frames} frames, {totals.rows} face rows, {len(totals.tracks)} tracks in "
                  f"{elapsed:.1f} s ({totals.frames / max(elapsed, 1e-9):.1f} fps)"
                  + (f" -> {', '.join(map(str, outputs))}" if outputs else ""))
    if totals.latencies:
        lat = sorted(totals.latencies)
        console.print(f"latency frame read -> results: p50 {lat[len(lat) // 2]:.1f} ms, "
                      f"p95 {lat[min(len(lat) - 1, int(0.95 * len(lat)))]:.1f} ms")
    if stages:
        console.print(f"ms per frame: {stages}")
    for name in totals.truncated:
        console.print(f"[yellow]{name}: the file breaks part way; annotated up to the break[/]")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
