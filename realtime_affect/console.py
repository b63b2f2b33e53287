"""What every console command shares: logging set-up, the progress bar, stop signals, and the guarded run that
turns every error into one line and its exit code (``realtime_affect.errors``).

Exit codes: 0 done; 1 unexpected internal error (a bug: ``-v`` shows the traceback); 2 bad input, option,
model, output or set-up (one line); 74 an output could not be written once the run had started (disk full,
read-only, no permission: the line names the file); 130 stopped by Ctrl-C (SIGINT); 143 stopped by SIGTERM.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Callable

from realtime_affect.errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    EXIT_WRITE,
    WRITE_ERRNOS,
    AffectError,
)

__all__ = ["EXIT_OK", "EXIT_INTERNAL", "EXIT_USAGE", "EXIT_WRITE", "EXIT_SIGINT", "EXIT_SIGTERM", "StopSignals",
           "setup_logging", "progress_bar", "run_guarded", "report_error", "stopped_exit_code", "add_version_flag",
           "version_text"]

log = logging.getLogger("realtime_affect")


class StopSignals:
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


def stopped_exit_code(stop: StopSignals) -> int | None:
    """130 or 143 when a signal stopped the run, else None."""
    if stop.signal is None:
        return None
    return EXIT_SIGTERM if stop.signal == signal.SIGTERM else EXIT_SIGINT


def setup_logging(verbose: bool, console) -> None:
    from rich.logging import RichHandler

    handler = RichHandler(console=console, show_time=False, show_path=False, markup=False,
                          rich_tracebacks=False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler],
                        format="%(message)s", force=True)
    if not verbose:
        for noisy in ("absl",):
            logging.getLogger(noisy).setLevel(logging.ERROR)


def progress_bar(console, quiet: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[fps]:>6.1f} fps"), TextColumn("faces {task.fields[faces]}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=quiet, transient=False)


def run_guarded(run: Callable[[StopSignals], int], console, verbose: bool, prog: str = "affect-live") -> int:
    """``run(stop)`` with Ctrl-C and SIGTERM turned into a flag checked between frames (exit 130 on a second
    Ctrl-C), and every error turned into one line and an exit code (``report_error``)."""
    stop = StopSignals()
    stop.install()
    try:
        return run(stop)
    except KeyboardInterrupt:
        console.print("[yellow]stopped[/]")
        return EXIT_SIGINT
    except Exception as exc:  # every error reaches the user as one line
        return report_error(exc, verbose, prog)
    finally:
        stop.restore()


def report_error(exc: BaseException, verbose: bool, prog: str = "affect-live") -> int:
    """One line on stderr and the exit code: an ``AffectError``'s own; an ``OSError`` only a write gives (no
    space, read-only file system) 74, naming its file; another ``OSError`` about a file (missing, no permission)
    2, naming it; anything else 1, a bug (``-v``: the traceback)."""
    if verbose:
        log.error("details", exc_info=exc)
    if isinstance(exc, AffectError):
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return exc.exit_code
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"{prog}: error: {where}write failed ({exc.strerror or exc})\n")
        return EXIT_WRITE
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        sys.stderr.write(f"{prog}: error: {exc.filename}: {exc.strerror}\n")
        return EXIT_USAGE
    sys.stderr.write(f"{prog}: internal error: {type(exc).__name__}: {exc} (run with -v for details)\n")
    return EXIT_INTERNAL


def version_text(prog: str) -> str:
    """What ``--version`` prints: the package's version, the bundled model's name and version, the backends."""
    from realtime_affect import __version__
    from realtime_affect.system.extras import installed

    lines = [f"{prog} {__version__} (realtime-affect)", f"bundled model: {_bundled_model()}"]
    backends = []
    for name, module, extra in (("onnxruntime", "onnxruntime", None), ("torch", "torch", "torch"),
                                ("tensorrt", "tensorrt", "tensorrt")):
        if installed(module):
            backends.append(f"{name} {_package_version(module)}")
        else:
            backends.append(f"{name} not installed (pip install 'realtime-affect[{extra}]')" if extra
                            else f"{name} not installed")
    lines.append("backends: " + ", ".join(backends))
    return "\n".join(lines)


def _package_version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "(version unknown)"


def _bundled_model() -> str:
    """``name version`` from the bundled ONNX model's card (its checksum checked), or why it cannot be read."""
    try:
        import onnxruntime as ort

        from realtime_affect.models.backends.onnxruntime import CARD_KEY
        from realtime_affect.models.card import ModelCard
        from realtime_affect.models.defaults import resolve_model

        path = resolve_model(None)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        card = ModelCard.from_json(session.get_modelmeta().custom_metadata_map[CARD_KEY])
        return f"{card.name} {card.version} ({path.name})"
    except Exception as exc:  # --version must answer even on a broken install; it says what is wrong
        return f"cannot be read ({exc})"


def add_version_flag(parser) -> None:
    """``--version`` on a command's parser."""
    import argparse

    class VersionAction(argparse.Action):
        def __init__(self, option_strings, dest, **kwargs) -> None:
            super().__init__(option_strings, dest, nargs=0, help="print the version, the bundled model and the "
                             "backends, then exit")

        def __call__(self, parser, namespace, values, option_string=None) -> None:
            sys.stdout.write(version_text(parser.prog.split()[0]) + "\n")
            parser.exit(0)

    parser.add_argument("--version", action=VersionAction)
