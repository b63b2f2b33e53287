"""Still images: any common format read as 8-bit BGR, a folder in name order, each image on its own."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from realtime_affect.sources.base import IMAGE_SUFFIXES, SourceError, check_readable_file
from realtime_affect.types import Frame

log = logging.getLogger(__name__)


def read_image(path: Path) -> np.ndarray:
    """Any common image as 8-bit BGR: greyscale, RGBA and 16-bit images are converted."""
    import cv2

    check_readable_file(path)
    data = np.fromfile(str(path), dtype=np.uint8)  # works with non-ASCII names everywhere
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SourceError(f"{path}: not a readable image")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(img)


def list_images(location: str | Path) -> list[Path]:
    """The images of a folder (sorted by name) or a single image file."""
    path = Path(location)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise SourceError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return images


class ImageSource:
    """Still images, each on its own (no tracking, no temporal model)."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self.name = str(self.paths[0].parent) if len(self.paths) > 1 else str(self.paths[0])
        self.truncated = False
        self.error: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            try:
                bgr = read_image(path)
            except SourceError as exc:
                if len(self.paths) == 1:
                    raise
                log.warning("skipped %s", exc)
                continue
            yield Frame(index=index, time_s=0.0, bgr=bgr, source=path.name, image_path=str(path))

    def close(self) -> None:
        pass

    def __enter__(self) -> "ImageSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
