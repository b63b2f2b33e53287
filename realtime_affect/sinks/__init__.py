"""Result sinks: each is a context manager with ``write(result)``, flushing as it goes."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


class SinkError(RuntimeError):
    """An output cannot be created or written (missing folder, no permission, disk full, exists)."""


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
