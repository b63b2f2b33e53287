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
    AffectError,
    is_output_fault,
)

__all__ = ["EXIT_OK", "EXIT_INTERNAL", "EXIT_USAGE", "EXIT_WRITE", "EXIT_SIGINT", "EXIT_SIGTERM", "StopSignals",
           "setup_logging", "progress_bar", "run_guarded", "report_error", "stopped_exit_code"]

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
    """One line on stderr and the exit code: an ``AffectError``'s own; an ``OSError`` that is an output's fault
    (no space, read-only, no permission) 74 with the file it names; anything else 1, a bug (``-v``: traceback)."""
    if verbose:
        log.error("details", exc_info=exc)
    if isinstance(exc, AffectError):
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return exc.exit_code
    if is_output_fault(exc):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"{prog}: error: {where}write failed ({exc.strerror or exc})\n")
        return EXIT_WRITE
    sys.stderr.write(f"{prog}: internal error: {type(exc).__name__}: {exc} (run with -v for details)\n")
    return EXIT_INTERNAL
