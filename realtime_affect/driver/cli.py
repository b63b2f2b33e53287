"""``affect-driver``: driver monitoring from a camera or a video, and its evaluation against hand labels.

    affect-driver --camera 0 [--events events.jsonl] [--csv driver.csv] [--out dashboard.mp4]
    affect-driver --video drive.mp4 --events events.jsonl --csv driver.csv --no-display
    affect-driver eval --labels labels.csv clip1.mp4 clip2.mp4 [--report eval.md]

Exit codes as ``affect-live`` (``realtime_affect.console``): 0 done; 1 internal error; 2 bad input, option,
output, model, configuration or labels (one line); 74 an output could not be written; 130 Ctrl-C; 143 SIGTERM.
A stopped run keeps every row and event written so far.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

from realtime_affect.analysis.flags import add_analysis_flags, add_model_flags, add_source_flags, analysis_options
from realtime_affect.console import (
    EXIT_OK,
    EXIT_SIGINT,
    StopSignals,
    progress_bar,
    report_error,
    run_guarded,
    setup_logging,
    stopped_exit_code,
)

log = logging.getLogger("realtime_affect")
PROG = "affect-driver"


def build_parser() -> argparse.ArgumentParser:
    from realtime_affect.console import add_version_flag

    p = argparse.ArgumentParser(prog=PROG, description="Driver monitoring: eye closure, microsleep, yawns, "
                                "distraction and more, by Euro NCAP's durations. 'affect-driver eval --help' "
                                "scores it against hand labels.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", metavar="INDEX|DEVICE", help="live camera: an index such as 0, or /dev/videoN")
    src.add_argument("--video", metavar="PATH|URL", help="a video file or stream URL")
    out = p.add_argument_group("output")
    out.add_argument("--csv", metavar="PATH", help="one row of driver signals per frame")
    out.add_argument("--events", metavar="PATH", help="events as JSON lines (a line at start and at end)")
    out.add_argument("--out", metavar="PATH", help="the dashboard as an H.264 video")
    out.add_argument("--out-size", choices=("auto", "input"), default="auto",
                     help="--out's size: auto (at least 720 px on the shorter side, text at least 12 px; the "
                          "default) or input (the input's size)")
    out.add_argument("--overwrite", action="store_true", help="replace existing output files")
    out.add_argument("--no-display", action="store_true", help="never open a window")
    _common(p)
    add_analysis_flags(p, sampling=False)
    add_source_flags(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, event lines or summary")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks on errors")
    add_version_flag(p)
    return p


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subject", default=None, metavar="largest|central|ID",
                   help="whose face: the largest (default), the most central, or a track id")
    p.add_argument("--config", metavar="FILE", help="thresholds as JSON or TOML (keys of DriverConfig)")
    add_model_flags(p)


def build_eval_parser() -> argparse.ArgumentParser:
    from realtime_affect.console import add_version_flag

    p = argparse.ArgumentParser(prog=f"{PROG} eval", description="Driver events against hand labels: per kind "
                                "precision, recall and start-time error.")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="clips named in the labels file")
    p.add_argument("--labels", required=True, metavar="CSV", help="video,kind,start_s,end_s rows")
    p.add_argument("--tolerance", type=float, default=0.5, metavar="S", help="start-time tolerance (default 0.5)")
    p.add_argument("--min-closure", type=float, default=0.4, metavar="S",
                   help="shortest closure scored as kind 'closure' (default 0.4)")
    p.add_argument("--report", metavar="PATH", help="also write the report (Markdown) here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    _common(p)
    add_analysis_flags(p, sampling=False)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks on errors")
    add_version_flag(p)
    return p


def _config(args: argparse.Namespace):
    from realtime_affect.driver.config import ConfigError, DriverConfig, load_config

    config = load_config(args.config) if args.config else DriverConfig()
    if args.subject is not None:
        if args.subject not in ("largest", "central") and not args.subject.isdigit():
            raise ConfigError(f"--subject {args.subject}: use largest, central or a track id (a number)")
        config.subject = args.subject
    return config


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["eval"]:
        return _main_eval(argv[1:])
    from rich.console import Console

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.camera is None and args.video is None:
        parser.error("give an input: --camera 0 or --video PATH|URL (or: affect-driver eval ...)")
    console = Console(stderr=True)
    setup_logging(args.verbose, console)
    analysis_options(parser, args)  # a bad analysis flag ends here, before the model opens
    if not (args.csv or args.events or args.out) and (args.no_display or args.camera is None):
        log.warning("no output file given (--csv, --events, --out): events are shown but not saved")
    return run_guarded(lambda stop: _run(args, parser, console, stop), console, args.verbose, PROG)


def _run(args: argparse.Namespace, parser, console, stop: StopSignals) -> int:
    from realtime_affect.driver.dashboard import draw_dashboard
    from realtime_affect.driver.monitor import DriverMonitor
    from realtime_affect.driver.outputs import DriverCsv, EventLog
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_camera, analyze_video
    from realtime_affect.sinks import SinkFailed, check_outputs, prepare_output
    from realtime_affect.sinks.video_sink import VideoSink
    from realtime_affect.sources import CameraSource, SourceError, VideoSource, check_readable_file, is_stream_url
    from realtime_affect.system.cores import model_threads
    from realtime_affect.timing import StageTimer
    from realtime_affect.ui.layout import WINDOW_MIN_SCALE, video_zoom
    from realtime_affect.ui.live_window import LiveWindow, display_available
    from realtime_affect.ui.overlay import OverlayState

    config = _config(args)
    if args.video and not is_stream_url(args.video):
        check_readable_file(Path(args.video))
    outputs = [p for p in (args.csv, args.events, args.out) if p]
    inputs = [p for p in (args.video, args.model, args.config) if p and not is_stream_url(p)]
    check_outputs(outputs, inputs)
    for path in outputs:
        prepare_output(path, args.overwrite)
    if args.camera is not None and not args.no_display and not display_available():
        raise SourceError("no display found for the live window: add --no-display and record with --csv, "
                          "--events or --out")
    show = not args.no_display and (args.camera is not None or display_available())
    monitor = DriverMonitor(config)
    timer = StageTimer()
    frames, last_t, started = 0, 0.0, time.perf_counter()
    with ExitStack() as stack:
        window = stack.enter_context(LiveWindow("driver monitoring")) if show else None  # before PyAV
        camera = stack.enter_context(CameraSource(args.camera)) if args.camera is not None else None
        source = stack.enter_context(VideoSource(args.video, reconnect_s=args.reconnect)) if camera is None else None
        model = stack.enter_context(open_model(resolve_model(args.model, args.backend), backend=args.backend,
                                               device=args.device,
                                               threads=None if camera is not None else model_threads()))
        rows = stack.enter_context(DriverCsv(args.csv, args.overwrite)) if args.csv else None
        events = stack.enter_context(EventLog(args.events, args.overwrite)) if args.events else None
        video = stack.enter_context(VideoSink(args.out, fps=source.info.fps if source else 30.0,
                                              overwrite=args.overwrite)) if args.out else None
        progress = stack.enter_context(progress_bar(console, args.quiet or camera is not None))
        name = camera.name if camera is not None else source.name
        if events is not None:
            events.source = name

        def tell(event, change: str) -> None:
            if events is not None:
                events.write(event, change)
            if not args.quiet:
                at = event.start_s if change == "start" else event.end_s
                console.print(f"{change:>5} {event.kind:<16} t={at:7.2f} s  track {event.track_id}  {event.reason}")

        monitor.on_event(tell)
        options = analysis_options(parser, args, eyes=config.eyes)  # the rows' eye state is the driver's
        if camera is not None:
            results = analyze_camera(model, camera, options, 0, timer, stop.event)
            task = None
        else:
            results = analyze_video(model, source, options, timer, stop.event)
            task = progress.add_task(name[-30:], total=source.info.frames, fps=0.0, faces=0)
        overlay = OverlayState()
        failed: list[SinkFailed] = []
        try:
            for result in results:
                state = monitor.update(result)
                frames, last_t = frames + 1, result.time_s
                if rows is not None:
                    rows.write(result.frame.index, state)
                fps = frames / max(time.perf_counter() - started, 1e-9)
                if task is not None:
                    progress.update(task, advance=1, fps=fps, faces=len(result.faces))
                if window is None and video is None:
                    continue
                if video is not None:  # readable when played back (--out-size)
                    zoom, min_scale = video_zoom(result.frame.bgr.shape[1], result.frame.bgr.shape[0], args.out_size)
                    try:
                        video.write_image(draw_dashboard(result.frame.bgr, result, state, overlay, fps=fps,
                                                         zoom=zoom, min_scale=min_scale), result.time_s)
                    except SinkFailed as exc:  # the video ends here; the events and rows go on
                        failed.append(exc)
                        video = None
                if window is not None and not window.show(  # the window's size, readable text
                        draw_dashboard(result.frame.bgr, result, state, overlay, fps=fps,
                                       zoom=window.zoom_for(result.frame.bgr), min_scale=WINDOW_MIN_SCALE)):
                    stop.event.set()
                    break
        finally:
            monitor.finish(last_t)  # events still open end here, and are written
    if not args.quiet:
        _summary(console, monitor, frames, last_t, time.perf_counter() - started, outputs)
    codes = [report_error(failure, args.verbose, PROG) for failure in failed]  # one line each
    stopped = stopped_exit_code(stop)
    if stopped is not None:
        return stopped
    return codes[0] if codes else EXIT_OK


def _summary(console, monitor, frames: int, last_t: float, elapsed: float, outputs: list) -> None:
    closures = monitor.closures
    blinks = [c for c in closures if c.duration_s < monitor.config.microsleep_s]
    console.print(f"{frames} frames, {last_t:.1f} s of video in {elapsed:.1f} s ({frames / max(elapsed, 1e-9):.1f} fps)"
                  + (f" -> {', '.join(map(str, outputs))}" if outputs else ""))
    if blinks:
        mean = sum(c.duration_s for c in blinks) / len(blinks)
        console.print(f"closures: {len(closures)} ({len(blinks)} blinks, mean {mean:.2f} s)")
    for kind in monitor.KINDS:
        mine = [e for e in monitor.events if e.kind == kind]
        if mine:
            spans = ", ".join(f"{e.start_s:.1f}-{e.end_s:.1f} s" for e in mine)
            console.print(f"{kind}: {len(mine)} ({spans})")
    if not monitor.events:
        console.print("no events")


def _main_eval(argv: list[str]) -> int:
    from rich.console import Console

    parser = build_eval_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    setup_logging(args.verbose, console)
    try:
        return _eval(args, parser)
    except KeyboardInterrupt:
        return EXIT_SIGINT
    except Exception as exc:
        return report_error(exc, args.verbose, PROG)


def _eval(args: argparse.Namespace, parser) -> int:
    from realtime_affect import Analyzer
    from realtime_affect.driver.evaluation import LabelError, load_labels, predictions, report_table, score
    from realtime_affect.driver.monitor import DriverMonitor
    from realtime_affect.sinks import check_outputs, prepare_output
    from realtime_affect.sources import check_readable_file

    labels = load_labels(args.labels)
    kinds = {s.kind for spans in labels.values() for s in spans}
    for video in args.videos:
        check_readable_file(Path(video))
        if Path(video).name not in labels:
            raise LabelError(f"{args.labels}: has no labels for {Path(video).name} (add a 'none' row if it has "
                             "no events)")
    if args.report:
        check_outputs([args.report], [*args.videos, args.labels])
        prepare_output(args.report, args.overwrite)
    per_clip, others, closures = {}, {}, {}
    config = _config(args)
    options = analysis_options(parser, args, eyes=config.eyes)  # the rows' eye state is the driver's
    with Analyzer(model=args.model, backend=args.backend, device=args.device, options=options) as analyzer:
        for video in args.videos:
            monitor = DriverMonitor(_config(args))
            last = 0.0
            for result in analyzer.video(video):
                monitor.update(result)
                last = result.time_s
            monitor.finish(last)
            name = Path(video).name
            predicted = predictions(monitor.events, monitor.closures, args.min_closure)
            per_clip[name] = score(labels[name], predicted, kinds, args.tolerance)
            others[name] = [s for s in predicted if s.kind not in kinds]
            closures[name] = monitor.closures
    title = f"affect-driver eval: {len(args.videos)} clips against {Path(args.labels).name}"
    text = report_table(per_clip, others, args.tolerance, title, closures)
    sys.stdout.write(text)
    if args.report:
        Path(args.report).write_text(text, encoding="utf-8")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
