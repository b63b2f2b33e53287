"""Readers for the labelled still-face sets the default model learns from (see ../shared/data/README.md).

Each reader returns a ``FaceSet``: the raw face images (not yet aligned) with their labels in the ABAW
conventions (expression ids 0..7, soft expression targets, 12 AUs, -1 where a label is missing) and a
group id per face (subject or file) so that splits never put one person on both sides.

- FER+ (``ferplus_*.npz``): 10 annotator votes -> soft targets over the 8 ABAW classes (contempt -> other);
  faces whose majority vote is "unknown" or "not a face" carry no expression label (they are kept, with
  ``expression == -1`` and an all-zero soft target, so the caller decides: we drop them from training).
- CK+ (``ckplus_train.npz``): posed emotion (contempt -> other) and FACS codes at the peak, mapped onto the
  12 ABAW AUs (present = 1, absent = 0; every ABAW AU is coded in CK+).
- A CSV + image folder (``labels.csv`` with ``image,emotion``; muxspace's format): one hard label each.

Pure numpy + csv; images are decoded with OpenCV only in ``read_csv_folder``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS

from .data import DataError

N_EXPR = len(EXPRESSIONS)
N_AU = len(ACTION_UNITS)

#: FER+ vote columns, in the file's order.
FERPLUS_VOTES: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                                  "contempt", "unknown", "not-a-face")

#: Emotion names used by the data sets -> ABAW expression id. Contempt has no ABAW class: "other".
EXPRESSION_ALIASES: dict[str, int] = {
    "neutral": 0, "anger": 1, "angry": 1, "disgust": 2, "disgusted": 2, "fear": 3, "fearful": 3, "afraid": 3,
    "happiness": 4, "happy": 4, "joy": 4, "sadness": 5, "sad": 5, "surprise": 6, "surprised": 6,
    "contempt": 7, "other": 7,
}


@dataclass
class FaceSet:
    """Raw labelled faces of one data set, before alignment."""

    name: str
    images: list[np.ndarray]                 # each (H, W) grey or (H, W, 3) BGR uint8
    expression: np.ndarray                   # (N,) int64, -1 = no expression label
    soft: np.ndarray                         # (N, 8) float32 target distribution (zeros when unlabelled)
    aus: np.ndarray                          # (N, 12) int8, -1 = not coded
    groups: np.ndarray                       # (N,) str: subject / source image, for grouped splits
    names: np.ndarray                        # (N,) str: file-level name of each face
    notes: dict[str, int] = field(default_factory=dict)
    va: np.ndarray | None = None             # (N, 2) float32 human valence/arousal ratings, NaN unrated; None: none

    def __len__(self) -> int:
        return len(self.images)

    @property
    def rated(self) -> np.ndarray:
        """(N,) bool: faces with a human valence/arousal rating."""
        if self.va is None:
            return np.zeros(len(self), bool)
        return np.isfinite(self.va).all(axis=1)

    def subset(self, index: np.ndarray | Sequence[int]) -> "FaceSet":
        idx = np.asarray(index, dtype=np.int64)
        return FaceSet(self.name, [self.images[i] for i in idx], self.expression[idx], self.soft[idx],
                       self.aus[idx], self.groups[idx], self.names[idx], dict(self.notes),
                       None if self.va is None else self.va[idx])


def expression_id(name: str) -> int:
    """ABAW id of an emotion name (case-insensitive); DataError for names no class fits."""
    key = name.strip().lower()
    if key not in EXPRESSION_ALIASES:
        raise DataError(f"unknown expression label {name!r}; expected one of {sorted(set(EXPRESSION_ALIASES))}")
    return EXPRESSION_ALIASES[key]


def ferplus_targets(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(soft (N, 8) float32, majority (N,) int64) from FER+ votes (N, 10) in the file's order.

    The majority is taken over all ten columns (ties: the first column, FER+'s own order); when it is
    "unknown" or "not a face" the face has no expression label (-1) and a zero soft target. The soft
    target is the vote share over the eight emotions in the ABAW order, contempt as "other".
    """
    votes = np.asarray(votes, dtype=np.float64)
    if votes.ndim != 2 or votes.shape[1] != len(FERPLUS_VOTES):
        raise DataError(f"FER+ votes must be (N, {len(FERPLUS_VOTES)}), got {votes.shape}")
    to_abaw = [EXPRESSION_ALIASES[name] for name in FERPLUS_VOTES[:8]]
    emotion = np.zeros((votes.shape[0], N_EXPR))
    emotion[:, to_abaw] = votes[:, :8]
    majority_column = votes.argmax(axis=1)
    labelled = (majority_column < 8) & (votes[:, :8].sum(axis=1) > 0)
    expression = np.where(labelled, np.asarray(to_abaw)[np.minimum(majority_column, 7)], -1).astype(np.int64)
    total = emotion.sum(axis=1, keepdims=True)
    soft = np.where(labelled[:, None], emotion / np.maximum(total, 1e-9), 0.0).astype(np.float32)
    return soft, expression


def one_hot(expression: np.ndarray) -> np.ndarray:
    """(N, 8) float32 one-hot targets; rows with -1 stay zero."""
    expression = np.asarray(expression)
    out = np.zeros((expression.shape[0], N_EXPR), np.float32)
    ok = expression >= 0
    out[np.flatnonzero(ok), expression[ok]] = 1.0
    return out


def ckplus_aus(au_numbers: Sequence[int], present: np.ndarray) -> np.ndarray:
    """(N, 12) int8 ABAW AU labels from CK+ presence columns; an ABAW AU that the file does not code is -1."""
    present = np.asarray(present)
    numbers = [int(n) for n in au_numbers]
    out = np.full((present.shape[0], N_AU), -1, np.int8)
    for j, name in enumerate(ACTION_UNITS):
        number = int(name[2:])
        if number in numbers:
            out[:, j] = (present[:, numbers.index(number)] > 0).astype(np.int8)
    return out


def _load_npz(path: Path, keys: Sequence[str]):
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz ({exc})") from exc
    missing = [k for k in keys if k not in data.files]
    if missing:
        raise DataError(f"{path}: missing arrays {missing}")
    return data


def read_ferplus(path: str | Path, name: str = "ferplus") -> FaceSet:
    """FER+ npz (``images`` (N, 48, 48) uint8, ``votes`` (N, 10), ``names``)."""
    path = Path(path)
    data = _load_npz(path, ("images", "votes"))
    images, votes = data["images"], data["votes"]
    if images.ndim != 3 or len(images) != len(votes):
        raise DataError(f"{path}: images {images.shape} and votes {votes.shape} do not match")
    soft, expression = ferplus_targets(votes)
    names = data["names"].astype(str) if "names" in data.files else np.array([f"{i}" for i in range(len(images))])
    return FaceSet(name, list(images), expression, soft, np.full((len(images), N_AU), -1, np.int8),
                   groups=names.copy(), names=names,
                   notes={"no_expression_majority": int((expression < 0).sum())})


def read_ckplus(path: str | Path, name: str = "ckplus") -> FaceSet:
    """CK+ npz: ``images``, ``subjects``, ``emotions`` (names), ``aus`` presence with ``au_numbers``."""
    path = Path(path)
    data = _load_npz(path, ("images", "subjects", "emotions", "aus", "au_numbers"))
    images = data["images"]
    expression = np.array([expression_id(e) for e in data["emotions"].astype(str)], np.int64)
    names = data["names"].astype(str) if "names" in data.files else data["subjects"].astype(str)
    return FaceSet(name, list(images), expression, one_hot(expression), ckplus_aus(data["au_numbers"], data["aus"]),
                   groups=data["subjects"].astype(str), names=names)


def read_csv_folder(labels_csv: str | Path, images: str | Path | None = None, name: str = "csv") -> FaceSet:
    """``image,emotion[,valence,arousal,...]`` CSV over an image folder (default: ``images/`` beside the CSV).

    The label column may be called ``emotion`` or ``expression``. With ``valence`` and ``arousal`` columns
    (human ratings in [-1, 1], e.g. DiffusionFER) the set carries them in ``va`` (an empty cell: unrated).
    Rows whose image is missing or unreadable are skipped and counted in ``notes``; an unknown emotion
    name or a rating outside [-1, 1] is an error (the file is not what it claims to be).
    """
    import cv2

    labels_csv = Path(labels_csv)
    if not labels_csv.is_file():
        raise DataError(f"{labels_csv}: file not found")
    root = Path(images) if images else labels_csv.parent / "images"
    faces, expr, names, ratings = [], [], [], []
    unreadable = 0
    with open(labels_csv, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        lower = {f.strip().lower(): f for f in reader.fieldnames or []}
        label = "emotion" if "emotion" in lower else "expression"
        if "image" not in lower or label not in lower:
            raise DataError(f"{labels_csv}: expected a header with 'image' and 'emotion' (or 'expression') columns")
        has_va = {"valence", "arousal"} <= set(lower)
        for line, row in enumerate(reader, start=2):
            file, emotion = row[lower["image"]].strip(), row[lower[label]]
            path = root / file
            if not path.is_file() and (labels_csv.parent / file).is_file():
                path = labels_csv.parent / file  # paths written relative to the CSV ("images/x.jpg")
            img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if img is None or img.ndim not in (2, 3) or img.shape[0] < 8 or img.shape[1] < 8:
                unreadable += 1
                continue
            if img.ndim == 3 and img.shape[2] == 4:
                img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
            if img.dtype != np.uint8:
                img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
            faces.append(img)
            expr.append(expression_id(emotion))
            names.append(file)
            if has_va:
                ratings.append(_rating(row[lower["valence"]], row[lower["arousal"]], labels_csv, line))
    if not faces:
        raise DataError(f"{labels_csv}: no readable images under {root}")
    expression = np.array(expr, np.int64)
    names_arr = np.array(names)
    return FaceSet(name, faces, expression, one_hot(expression), np.full((len(faces), N_AU), -1, np.int8),
                   groups=names_arr.copy(), names=names_arr, notes={"unreadable_images": unreadable},
                   va=np.array(ratings, np.float32) if has_va else None)


def _rating(valence: str, arousal: str, path: Path, line: int) -> tuple[float, float]:
    """One (valence, arousal) rating from CSV cells; empty cells are unrated (NaN)."""
    if not valence.strip() or not arousal.strip():
        return float("nan"), float("nan")
    try:
        v, a = float(valence), float(arousal)
    except ValueError:
        raise DataError(f"{path}:{line}: valence/arousal {valence!r}, {arousal!r} are not numbers") from None
    if not (-1.0 <= v <= 1.0 and -1.0 <= a <= 1.0):
        raise DataError(f"{path}:{line}: valence/arousal ({v}, {a}) outside [-1, 1]")
    return v, a


def split_groups(groups: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train index, validation index) with about ``fraction`` of the groups held out, whole groups only."""
    unique = np.array(sorted(set(groups.tolist())))
    rng = np.random.default_rng(seed)
    held = set(rng.choice(unique, size=max(1, int(round(len(unique) * fraction))), replace=False).tolist())
    val = np.array([g in held for g in groups])
    return np.flatnonzero(~val), np.flatnonzero(val)


__all__ = ["FaceSet", "FERPLUS_VOTES", "EXPRESSION_ALIASES", "expression_id", "ferplus_targets", "one_hot",
           "ckplus_aus", "read_ferplus", "read_ckplus", "read_csv_folder", "split_groups"]
