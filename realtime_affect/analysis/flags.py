"""The analysis flags every command shares (``affect-live``, ``affect-driver``, ``affect-batch``, ``affect-serve``):
the same names, the same defaults (``AnalyzerOptions``'s own), turned into options in one place.

    add_model_flags(parser)
    add_analysis_flags(parser, sampling=True)
    options = analysis_options(parser, args)   # a bad value: parser.error naming the flag, exit 2
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from realtime_affect.errors import OptionsError
from realtime_affect.faces.finder_options import FinderOptions

if TYPE_CHECKING:  # pragma: no cover
    from realtime_affect.analysis.options import AnalyzerOptions

#: Option (as ``OptionsError.option`` names it) -> the flag that sets it.
FLAGS = {"finder.max_faces": "--max-faces", "finder.min_face_size": "--min-face-size",
         "finder.sweep_every": "--sweep-every", "sample_fps": "--sample-fps"}

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")


def add_model_flags(parser: argparse.ArgumentParser, backends: tuple[str, ...] = BACKENDS,
                    device: bool = True) -> None:
    """``--model``, ``--backend`` (and ``--device``)."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", metavar="PATH", help="model file (default: the bundled model)")
    group.add_argument("--backend", default="auto", choices=backends)
    if device:
        group.add_argument("--device", default="cpu", choices=("cpu", "cuda"))


def add_analysis_flags(parser: argparse.ArgumentParser, sampling: bool = True) -> None:
    """The faces and temporal flags (and ``--sample-fps`` for commands that read video files)."""
    finder = FinderOptions()
    group = parser.add_argument_group("analysis")
    group.add_argument("--no-temporal", action="store_true", help="per-frame predictions only (skip the GRU)")
    group.add_argument("--max-faces", type=int, default=finder.max_faces, metavar="N",
                       help=f"faces per frame, the largest kept (default {finder.max_faces})")
    group.add_argument("--min-face-size", type=int, default=finder.min_face_size, metavar="PX",
                       help="ignore faces less tall than this")
    group.add_argument("--no-full-range", action="store_true",
                       help="FaceLandmarker's detector only: faster, misses small and distant faces")
    group.add_argument("--sweep-every", type=int, default=finder.sweep_every, metavar="N",
                       help=f"frames between full-range detector sweeps for new faces (default {finder.sweep_every})")
    if sampling:
        group.add_argument("--sample-fps", type=float, default=None, metavar="F",
                           help="video: analyse about F frames per second (by timestamp); rows for those frames only")


def add_source_flags(parser: argparse.ArgumentParser) -> None:
    """``--reconnect SECONDS``: how long a dropped network stream is retried (files are never retried)."""
    from realtime_affect.sources.base import STREAM_RECONNECT_S

    parser.add_argument("--reconnect", type=float, default=None, metavar="SECONDS",
                        help="retry a network stream that drops (rtsp://, http://, ...) for up to SECONDS, with "
                             f"backoff, then go on with the same tracks (default {STREAM_RECONNECT_S:g}; 0: off; "
                             "files are never retried)")


def check_source_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if getattr(args, "reconnect", None) is not None and args.reconnect < 0:
        parser.error(f"--reconnect {args.reconnect:g}: must be 0 (off) or more seconds")


def analysis_options(parser: argparse.ArgumentParser, args: argparse.Namespace, **more) -> "AnalyzerOptions":
    """The ``AnalyzerOptions`` the flags ask for (``more``: other fields, e.g. ``eyes``); a value out of range
    ends the command through ``parser.error`` with the flag's name (exit 2)."""
    check_source_flags(parser, args)
    try:
        return options_from_flags(args, **more)
    except OptionsError as exc:
        flag = FLAGS.get(exc.option or "")
        if flag is None:
            parser.error(str(exc))
        value = getattr(args, flag[2:].replace("-", "_"))
        parser.error(f"{flag} {value:g}: must be {exc.wanted}" if isinstance(value, float)
                     else f"{flag} {value}: must be {exc.wanted}")
        raise  # pragma: no cover (parser.error exits)


def options_from_flags(args: argparse.Namespace, **more) -> "AnalyzerOptions":
    """The options for parsed analysis flags (raises ``OptionsError``)."""
    from realtime_affect.analysis.options import AnalyzerOptions

    finder = FinderOptions(max_faces=args.max_faces, min_face_size=args.min_face_size,
                           full_range=not args.no_full_range, sweep_every=args.sweep_every)
    return AnalyzerOptions(finder=finder, temporal=not args.no_temporal,
                           sample_fps=getattr(args, "sample_fps", None), **more)
