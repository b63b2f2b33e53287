"""Labelled face data: readers for the ABAW / Aff-Wild2 formats, AffectNet-style CSVs and class folders,
and a torch Dataset with weak and strong augmentation.

Missing labels follow ABAW: expression -1, AU -1 (per entry; a whole row when the frame has none),
valence/arousal -5. Images are aligned face crops; crops made by ``affect-train prepare`` come from the
runtime's own ``align`` code, so training and serving see the same crops.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from realtime_affect.errors import InputError
from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS, MISSING_VA

log = logging.getLogger(__name__)

N_AU = len(ACTION_UNITS)


class DataError(InputError, ValueError):
    """An annotation file or image folder cannot be read as the format it claims to be."""


@dataclass
class Sample:
    image: Path
    expression: int = -1
    aus: np.ndarray = field(default_factory=lambda: np.full(N_AU, -1, np.int8))
    va: np.ndarray = field(default_factory=lambda: np.full(2, MISSING_VA, np.float32))
    video: str = ""
    frame: int = 0


def _video_and_frame(rel: str) -> tuple[str, int]:
    p = Path(rel)
    try:
        frame = int(p.stem)
    except ValueError:
        frame = 0
    return str(p.parent), frame


def read_mtl_annotations(annotations: str | Path, images: str | Path, skip_missing: bool = True) -> list[Sample]:
    """s-Aff-Wild2 MTL file: ``image,valence,arousal,expression,AU1..AU26`` (12 AU columns), a header line."""
    annotations, images = Path(annotations), Path(images)
    if not annotations.is_file():
        raise DataError(f"{annotations}: annotation file not found")
    samples, missing = [], 0
    with open(annotations, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or header[0].strip().lower() not in ("image", "name", "path"):
            raise DataError(f"{annotations}: expected a header starting with 'image'")
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 4 + N_AU:
                raise DataError(f"{annotations}:{line_no}: expected {4 + N_AU} fields, got {len(row)}")
            path = images / row[0]
            if skip_missing and not path.is_file():
                missing += 1
                continue
            video, frame = _video_and_frame(row[0])
            samples.append(Sample(image=path, va=np.array([float(row[1]), float(row[2])], np.float32),
                                  expression=int(float(row[3])), aus=np.array([int(float(v)) for v in row[4:]], np.int8),
                                  video=video, frame=frame))
    if missing:
        log.warning("%d annotated images are missing under %s and were skipped", missing, images)
    if not samples:
        raise DataError(f"{annotations}: no usable samples (images under {images}?)")
    return samples


def _read_task_file(path: Path, width: int) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line.strip().split(",") for line in lines[1:] if line.strip()]
    for i, row in enumerate(rows, start=2):
        if len(row) != width:
            raise DataError(f"{path}:{i}: expected {width} values, got {len(row)}")
    return rows


def read_abaw_folders(frames: str | Path, expr: str | Path | None = None, au: str | Path | None = None,
                      va: str | Path | None = None, suffix: str = ".jpg") -> list[Sample]:
    """ABAW per-task folders (one txt per video, a header line, one line per frame, frame i -> ``i:05d``
    image, 1-based) over per-video frame folders; the three tasks are merged per frame."""
    frames = Path(frames)
    table: dict[tuple[str, int], Sample] = {}

    def sample(video: str, index: int) -> Sample:
        key = (video, index)
        if key not in table:
            table[key] = Sample(image=frames / video / f"{index:05d}{suffix}", video=video, frame=index)
        return table[key]

    given = [(d, w, kind) for d, w, kind in ((expr, 1, "expr"), (au, N_AU, "au"), (va, 2, "va")) if d]
    if not given:
        raise DataError("give at least one of the expression, AU or VA annotation folders")
    for folder, width, kind in given:
        folder = Path(folder)
        files = sorted(folder.glob("*.txt"))
        if not files:
            raise DataError(f"{folder}: no .txt annotation files")
        for txt in files:
            for i, row in enumerate(_read_task_file(txt, width), start=1):
                s = sample(txt.stem, i)
                if kind == "expr":
                    s.expression = int(row[0])
                elif kind == "au":
                    s.aus = np.array([int(v) for v in row], np.int8)
                else:
                    s.va = np.array([float(v) for v in row], np.float32)
    samples = [s for s in table.values() if s.image.is_file()]
    if not samples:
        raise DataError(f"no annotated frame has an image under {frames}")
    return sorted(samples, key=lambda s: (s.video, s.frame))


# AffectNet: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt, 8+ none
_AFFECTNET_TO_ABAW = {0: 0, 1: 4, 2: 5, 3: 6, 4: 3, 5: 2, 6: 1, 7: 7}


def read_affectnet_csv(annotations: str | Path, images: str | Path) -> list[Sample]:
    """AffectNet-style CSV with columns ``subDirectory_filePath`` (or ``image``), ``expression``,
    ``valence``, ``arousal``; expressions are mapped to the ABAW order (contempt -> other)."""
    annotations, images = Path(annotations), Path(images)
    samples = []
    with open(annotations, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rel = row.get("subDirectory_filePath") or row.get("image")
            if rel is None:
                raise DataError(f"{annotations}: needs a subDirectory_filePath or image column")
            path = images / rel
            if not path.is_file():
                continue
            expr = _AFFECTNET_TO_ABAW.get(int(float(row.get("expression", -1))), -1)
            v, a = float(row.get("valence", -2)), float(row.get("arousal", -2))
            va = np.array([v, a] if -1 <= v <= 1 and -1 <= a <= 1 else [MISSING_VA, MISSING_VA], np.float32)
            samples.append(Sample(image=path, expression=expr, va=va))
    if not samples:
        raise DataError(f"{annotations}: no usable samples")
    return samples


def read_class_folders(root: str | Path) -> list[Sample]:
    """Folders named after expressions (``happiness/``, ``anger/`` ...) holding face crops."""
    root = Path(root)
    samples = []
    for idx, name in enumerate(EXPRESSIONS):
        folder = root / name
        if folder.is_dir():
            samples += [Sample(image=p, expression=idx) for p in sorted(folder.iterdir()) if p.is_file()]
    if not samples:
        raise DataError(f"{root}: no expression folders ({', '.join(EXPRESSIONS)})")
    return samples


def split_by_video(samples: Sequence[Sample], val_fraction: float = 0.2, seed: int = 0
                   ) -> tuple[list[Sample], list[Sample]]:
    """Train/validation split by video (never frames of one video on both sides)."""
    videos = sorted({s.video for s in samples})
    rng = np.random.default_rng(seed)
    rng.shuffle(videos)
    n_val = max(1, int(round(len(videos) * val_fraction))) if len(videos) > 1 else 0
    val_videos = set(videos[:n_val])
    return [s for s in samples if s.video not in val_videos], [s for s in samples if s.video in val_videos]


def load_crop(path: Path, size: int) -> np.ndarray:
    """A face crop as BGR uint8 (size, size, 3)."""
    import cv2

    from realtime_affect.sources import read_image

    img = read_image(path)
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img


class Augment:
    """Weak view: flip, small affine jitter, brightness/contrast, some greyscale ("full"), or flip only
    ("light"), or nothing ("none"). Strong view: the weak view + RandAugment + erasing."""

    LEVELS = ("full", "light", "none")

    def __init__(self, size: int, strong: bool = False, seed: int | None = None, level: str = "full") -> None:
        if level not in self.LEVELS:
            raise DataError(f"unknown augmentation level {level!r}; choose one of {', '.join(self.LEVELS)}")
        self.size = size
        self.strong = strong
        self.level = level
        self.rng = np.random.default_rng(seed)
        self._randaugment = None

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        import cv2

        rng = self.rng
        img = bgr
        if self.level == "none":
            return self._strong(img) if self.strong else img
        if rng.random() < 0.5:
            img = img[:, ::-1]
        if self.level == "light":
            return self._strong(np.ascontiguousarray(img)) if self.strong else np.ascontiguousarray(img)
        angle = rng.uniform(-10, 10)
        scale = rng.uniform(0.92, 1.08)
        mat = cv2.getRotationMatrix2D((self.size / 2, self.size / 2), angle, scale)
        mat[:, 2] += rng.uniform(-4, 4, 2)
        img = cv2.warpAffine(np.ascontiguousarray(img), mat, (self.size, self.size), borderMode=cv2.BORDER_REFLECT)
        alpha, beta = rng.uniform(0.75, 1.25), rng.uniform(-25, 25)
        img = cv2.convertScaleAbs(img, alpha=alpha, beta=beta)
        if rng.random() < 0.2:
            img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        if self.strong:
            img = self._strong(img)
        return img

    def _strong(self, img: np.ndarray) -> np.ndarray:
        import torch
        from torchvision.transforms import v2

        if self._randaugment is None:
            self._randaugment = v2.RandAugment(num_ops=2, magnitude=9)
        t = torch.from_numpy(np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1)))
        out = self._randaugment(t).numpy().transpose(1, 2, 0)[..., ::-1]
        out = np.ascontiguousarray(out)
        if self.rng.random() < 0.5:  # random erasing (cutout)
            h = int(self.size * self.rng.uniform(0.15, 0.35))
            y, x = self.rng.integers(0, self.size - h, 2)
            out[y:y + h, x:x + h] = self.rng.integers(0, 255)
        return out


class FaceDataset:
    """Torch-style dataset of labelled crops. Items: dict with ``image`` (3, S, S) float32 normalised
    like the runtime, optional ``strong`` view, and the labels; soft teacher labels when given."""

    def __init__(self, samples: Sequence[Sample], size: int, mean, std, train: bool = False,
                 strong_view: bool = False, soft: dict[str, np.ndarray] | None = None,
                 augment: str = "full", seed: int = 0) -> None:
        self.samples = list(samples)
        self.size, self.mean, self.std = size, mean, std
        self.train = train
        self.weak = Augment(size, seed=seed, level=augment) if train else None
        self.strong = Augment(size, strong=True, seed=seed + 1, level=augment) if strong_view else None
        self.soft = soft

    def reseed(self, seed: int) -> None:
        """Give this copy of the data set its own augmentation stream (one per DataLoader worker)."""
        for aug in (self.weak, self.strong):
            if aug is not None:
                aug.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.samples)

    def _tensor(self, bgr: np.ndarray) -> np.ndarray:
        from realtime_affect.faces.align import to_input

        return to_input(bgr[None], self.mean, self.std)[0]

    def __getitem__(self, i: int) -> dict:
        s = self.samples[i]
        crop = load_crop(s.image, self.size)
        item = {
            "image": self._tensor(self.weak(crop) if self.weak else crop),
            "expression": np.int64(s.expression),
            "aus": s.aus.astype(np.float32),
            "va": s.va.astype(np.float32),
            "index": np.int64(i),
        }
        if self.strong is not None:
            item["strong"] = self._tensor(self.strong(crop))
        if self.soft is not None:
            for key, value in self.soft.items():
                item[f"soft_{key}"] = value[i].astype(np.float32)
        return item


def label_counts(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expression counts per class, AU positives and negatives per AU (for class weights / pos_weight)."""
    expr = np.array([s.expression for s in samples])
    counts = np.array([(expr == c).sum() for c in range(len(EXPRESSIONS))])
    aus = np.stack([s.aus for s in samples]).astype(np.int64)
    return counts, (aus == 1).sum(0), (aus == 0).sum(0)
