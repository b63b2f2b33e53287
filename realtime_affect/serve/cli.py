"""``affect-serve``: the browser dashboard and ``/ws/results`` for a camera, a video or visitors' own cameras.

    affect-serve --video clip.mp4            # open http://127.0.0.1:8765/ : the clip at its own pace
    affect-serve --camera 0 --driver         # the machine's camera, with the driver monitor's signals
    affect-serve                             # only visitors' browser cameras
    affect-serve --host 0.0.0.0 --video x    # reachable from other machines: a token is printed once
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
from pathlib import Path
from typing import Sequence

from realtime_affect.analysis.flags import add_analysis_flags, add_model_flags, add_source_flags, analysis_options

log = logging.getLogger("realtime_affect.serve")


def build_parser() -> argparse.ArgumentParser:
    from realtime_affect.console import add_version_flag

    p = argparse.ArgumentParser(prog="affect-serve", description="Serve live results to browsers and programs: "
                                "the dashboard at /, one JSON message per analysed frame at /ws/results.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", metavar="INDEX|DEVICE", help="this machine's camera: an index such as 0")
    src.add_argument("--video", metavar="PATH|URL", help="a video file (played at its own frame rate) or stream URL")
    p.add_argument("--fast", action="store_true", help="analyse a --video file as fast as possible")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs the printed token)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", help="the token to require (default: a random one when --host is not loopback)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="another web origin whose pages may connect (e.g. http://dash.example:3000; repeat)")
    p.add_argument("--no-browser-camera", action="store_true", help="do not analyse visitors' browser cameras")
    p.add_argument("--max-browser-cameras", type=int, default=4, metavar="N")
    p.add_argument("--record-dir", default="recordings", metavar="DIR",
                   help="where the page's recordings go (created when needed; nothing is overwritten)")
    p.add_argument("--driver", action="store_true", help="add the driver monitor's signals to every message")
    add_model_flags(p)
    add_analysis_flags(p, sampling=False)
    add_source_flags(p)
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    add_version_flag(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console

    from realtime_affect.console import run_guarded, setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    setup_logging(args.verbose, console)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.no_browser_camera and args.camera is None and args.video is None:
        parser.error("nothing to serve: give --camera or --video, or allow browser cameras")
    if args.fast and not args.video:
        parser.error("--fast goes with --video")
    if args.max_browser_cameras < 0:
        parser.error("--max-browser-cameras must be 0 or more")
    options = analysis_options(parser, args)
    return run_guarded(lambda stop: _serve(args, options, console, stop), console, args.verbose, prog="affect-serve")


def _serve(args: argparse.Namespace, options, console, stop) -> int:
    from contextlib import ExitStack

    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model
    from realtime_affect.serve.access import access_policy
    from realtime_affect.serve.browser_camera import BrowserCameras, CameraLimits
    from realtime_affect.serve.hub import Hub
    from realtime_affect.serve.server import ServerThread, require_serve_extra
    from realtime_affect.serve.source_loop import run_camera, run_video
    from realtime_affect.serve.state import ServeState
    from realtime_affect.sources import CameraSource, check_readable_file, is_stream_url

    require_serve_extra()
    if args.video and not is_stream_url(args.video):
        check_readable_file(Path(args.video))
    policy = access_policy(args.host, args.token, args.allow_origin,
                           lambda text: console.print(f"[yellow]warning:[/] {text}"))
    with ExitStack() as stack:
        camera = stack.enter_context(CameraSource(args.camera)) if args.camera is not None else None
        model = stack.enter_context(open_model(resolve_model(args.model, args.backend), backend=args.backend,
                                               device=args.device))
        state = ServeState(Hub(), policy, Path(args.record_dir), driver=args.driver,
                           expects_source=bool(args.video or camera is not None))
        if not args.no_browser_camera and args.max_browser_cameras > 0:
            cameras = BrowserCameras(model, options, state.publisher,
                                     CameraLimits(max_clients=args.max_browser_cameras))
            stack.callback(cameras.shutdown)
            state.cameras = cameras
        server = ServerThread(state, args.host, args.port).start()
        stack.callback(server.stop)
        stack.callback(state.stop_recordings)  # runs first: recordings are closed before the server goes
        console.print(f"serving on [bold]{server.url()}[/]  (results: {server.url('/ws/results')})")
        if policy.token:
            console.print("the token is in that address; it is printed only this once")
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="affect-serve-")))
        if args.video:
            publisher, replay = run_video(model, args.video, options, state.publisher, stop.event, args.fast,
                                          run_dir, reconnect_s=args.reconnect)
            publisher.end(None if stop.event.is_set() else replay)
            if not stop.event.is_set() and not args.quiet:
                console.print(f"{args.video}: finished ({publisher.frames} frames); the page offers its replay. "
                              "Serving until Ctrl-C.")
        elif camera is not None:
            publisher = state.publisher(camera.name)
            run_camera(camera, model, options, publisher, stop.event)
            publisher.end(None)
        _wait(stop.event)
    if not args.quiet:
        console.print("stopped; recordings closed")
    return 0


def _wait(event: threading.Event) -> None:
    while not event.wait(0.5):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
