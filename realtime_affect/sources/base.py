"""What every source shares: the one error type, which inputs are streams or images, and the checks a
file passes before it is opened (leaf module: standard library only)."""
from __future__ import annotations

import os
from pathlib import Path

from realtime_affect.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
#: How long a network stream that drops is retried by default (files are never retried).
STREAM_RECONNECT_S = 30.0
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


class SourceError(InputError, RuntimeError):
    """An input cannot be read at all (missing, not a video, empty, unreachable)."""


def is_stream_url(text: str) -> bool:
    return text.lower().startswith(STREAM_PREFIXES)


def check_readable_file(path: Path) -> None:
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a directory (use --images for a folder of images)")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path}: permission denied")
