"""What to annotate: files, folders (searched recursively for videos) and list files, with one output name
per input, clashes resolved the same way every time."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from realtime_affect.errors import InputError
from realtime_affect.sources import is_stream_url

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".flv", ".mpg", ".mpeg", ".ts",
                            ".mts", ".m2ts", ".wmv", ".3gp", ".ogv"})
#: A file with one of these suffixes lists inputs, one per line (blank lines and ``#`` comments skipped).
LIST_SUFFIXES = frozenset({".txt", ".list"})


class BatchInputError(InputError, ValueError):
    """An argument that names nothing to annotate (exit 2)."""


@dataclass(frozen=True)
class BatchInput:
    location: str   # a path (absolute) or a stream URL
    output: str     # the output file name in the output folder


def _from_list(path: Path) -> list[str]:
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if is_stream_url(line):
            found.append(line)
        else:
            p = Path(line).expanduser()
            found.append(os.path.abspath(p if p.is_absolute() else path.parent / p))
    return found


def expand(arguments: Sequence[str]) -> list[str]:
    """Absolute input locations (symlinks kept: an output is named after the name the user sees), in the
    order given, each once: a folder gives its videos (recursively, sorted), a
    ``.txt`` file its lines (paths relative to it, or URLs); a missing path is an error. Entries of a list
    file are not checked here: one that is missing fails on its own, the others go on."""
    locations: list[str] = []
    for arg in arguments:
        if is_stream_url(arg):
            locations.append(arg)
            continue
        path = Path(arg).expanduser()
        if path.is_dir():
            videos = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            if not videos:
                raise BatchInputError(f"{path}: no video files in this folder ({', '.join(sorted(VIDEO_SUFFIXES))})")
            locations.extend(os.path.abspath(p) for p in videos)
        elif path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            locations.extend(_from_list(path))
        elif path.exists():
            locations.append(os.path.abspath(path))
        else:
            raise BatchInputError(f"{path}: no such file or folder")
    seen: set[str] = set()
    unique = [loc for loc in locations if not (loc in seen or seen.add(loc))]
    if not unique:
        raise BatchInputError("nothing to annotate: give video files, folders or a .txt list of them")
    return unique


def _stem(location: str) -> str:
    if is_stream_url(location):
        tail = location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        stem = Path(tail).stem or "stream"
    else:
        stem = Path(location).stem or "input"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)


def assign_outputs(locations: Sequence[str], suffix: str) -> list[BatchInput]:
    """``<stem><suffix>`` per input; inputs whose stems clash (case-insensitively) all get
    ``<stem>-<8 hex of their location><suffix>`` instead, so a name depends only on the input set's clashes,
    never on the order."""
    stems = [_stem(loc) for loc in locations]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem.lower()] = counts.get(stem.lower(), 0) + 1
    out = []
    for loc, stem in zip(locations, stems):
        if counts[stem.lower()] > 1:
            stem = f"{stem}-{hashlib.sha1(loc.encode()).hexdigest()[:8]}"
        out.append(BatchInput(loc, stem + suffix))
    return out
