"""Temporary folders that name the process that made them (``affect-KIND-PID-XXXX`` in the temp folder), so
that the folders of a process that was killed (a Ray task cancelled or lost with its node, the OOM killer) can be
found and removed by the next process that starts: a long-lived machine does not fill its disk. Standard library
only."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

KINDS = ("job", "model")


def owned_tempdir(kind: str, folder: str | None = None) -> Path:
    """A new temporary folder named after ``kind`` and this process."""
    return Path(tempfile.mkdtemp(prefix=f"affect-{kind}-{os.getpid()}-", dir=folder))


def _alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, killed but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OverflowError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def owner(path: Path) -> int | None:
    """The process id in an ``affect-KIND-PID-...`` folder's name (None: not such a folder)."""
    parts = path.name.split("-")
    if len(parts) < 4 or parts[0] != "affect" or parts[1] not in KINDS or not parts[2].isdigit():
        return None
    return int(parts[2])


def remove_stale(folder: str | None = None) -> list[Path]:
    """Remove the ``affect-job-*`` and ``affect-model-*`` folders whose process is gone; returns them."""
    root = Path(folder or tempfile.gettempdir())
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for path in entries:
        pid = owner(path)
        if pid is None or pid == os.getpid() or _alive(pid) or not path.is_dir():
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    if removed:
        log.info("removed %d temporary folders left by stopped processes in %s", len(removed), root)
    return removed
