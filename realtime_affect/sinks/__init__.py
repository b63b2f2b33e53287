"""Result sinks: every one implements ``Sink`` (``write(result)``, ``close()``, a context manager), flushing as
it goes; failures are raised, never left in a flag:

- ``SinkError`` (exit 2): the output cannot be created (exists, is an input, its folder is missing);
- ``SinkWriteError`` (exit 74): writing it failed once the run started (disk full, read-only, no permission);
  the run stops, every output is closed on a whole row;
- ``SinkFailed`` (exit 1): the sink cannot go on for a reason that is not the output's (the encoder refused a
  frame); ``SinkSet`` then drops that sink, the others go on, and the failure is reported at the end.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Protocol, Sequence, runtime_checkable

from realtime_affect.errors import EXIT_INTERNAL, OutputError, WriteError

if TYPE_CHECKING:  # pragma: no cover
    from realtime_affect.types import FrameResult


class SinkError(OutputError, RuntimeError):
    """An output cannot be created or written (missing folder, no permission, disk full, exists)."""


class SinkWriteError(SinkError, WriteError):
    """Writing an output failed after the run started (disk full, read-only file system, no permission)."""


class SinkFailed(SinkError):
    """A sink stopped part way for a reason that is not the output's (the encoder refused a frame): what it
    wrote before stays valid, the other sinks go on."""

    exit_code = EXIT_INTERNAL


@runtime_checkable
class Sink(Protocol):
    """Where results go: ``write`` one frame's results (flushed, so a stopped run keeps them), ``close`` once."""

    def write(self, result: "FrameResult") -> None: ...

    def close(self) -> None: ...


class SinkSet:
    """Writes each result to every sink; a sink that raises ``SinkFailed`` is dropped (the others go on) and its
    failure kept in ``failures``; any other error stops the run."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks: list[Sink] = list(sinks)
        self.failures: list[SinkFailed] = []

    def add(self, sink: Sink) -> Sink:
        self.sinks.append(sink)
        return sink

    def write(self, result: "FrameResult") -> None:
        for sink in list(self.sinks):
            try:
                sink.write(result)
            except SinkFailed as exc:
                self.sinks.remove(sink)
                self.failures.append(exc)


def _same_file(a: Path, b: Path) -> bool:
    """True when two paths name one file: the same path, a relative and an absolute spelling, a symlink,
    or a hard link (compared by device and inode when both exist)."""
    import os

    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_outputs(outputs: Sequence[str | Path], inputs: Sequence[str | Path]) -> None:
    """Refuse (SinkError) an output that is one of the inputs, or two outputs that are one file.

    Called before anything is opened for writing; ``--overwrite`` never overrides it: a tool that
    annotates people's only copies of their recordings must never write over them."""
    outs = [Path(p) for p in outputs]
    for i, out in enumerate(outs):
        for given in inputs:
            if _same_file(out, Path(given)):
                raise SinkError(f"{out}: is the input {given}; choose another output name "
                                "(inputs are never overwritten, even with --overwrite)")
        for other in outs[i + 1:]:
            if _same_file(out, other):
                raise SinkError(f"two outputs name the same file: {out} and {other}")


def prepare_output(path: str | Path, overwrite: bool) -> Path:
    """Check that ``path`` can be written: its folder exists and it is not already there (unless asked)."""
    path = Path(path)
    if path.is_dir():
        raise SinkError(f"{path}: is a directory; give a file name")
    if not path.parent.exists():
        raise SinkError(f"{path}: folder {path.parent} does not exist")
    if path.exists() and not overwrite:
        raise SinkError(f"{path}: already exists; pass --overwrite to replace it")
    return path
