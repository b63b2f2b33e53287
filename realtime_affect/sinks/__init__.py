"""Result sinks: each is a context manager with ``write(result)``, flushing as it goes."""
from __future__ import annotations

from pathlib import Path


class SinkError(RuntimeError):
    """An output cannot be created or written (missing folder, no permission, disk full, exists)."""


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
