"""The faces recipe's data: the labelled sets read and landmarked (cached), split by subject or file as the
recipe trains and validates, and turned into aligned grey crops with every target (``PreparedSet``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS

from .au_teacher import BlendshapeAUTeacher
from .face_cache import FaceFit, aligned_crops, aligned_masks, cached_fit
from .faces_config import FacesConfig
from .facesets import FaceSet, read_ckplus, read_csv_folder, read_ferplus, split_groups
from .va_targets import va_from_expression


@dataclass
class PreparedSet:
    """Aligned grey crops of one set with every target the recipe needs."""

    name: str
    crops: np.ndarray        # (N, S, S) uint8 grey (BT.601, as the model's own grey conversion)
    fitted: np.ndarray       # (N,) bool
    expression: np.ndarray   # (N,) int64 majority / label, -1 none
    soft: np.ndarray         # (N, 8) float32
    aus: np.ndarray          # (N, 12) int8 FACS codes, -1 none
    au_teacher: np.ndarray   # (N, 12) float32 teacher probabilities, NaN none
    va: np.ndarray           # (N, 2) float32 derived targets
    blendshapes: np.ndarray  # (N, 52) float32
    inside: np.ndarray       # (N, S, S) bool: pixels from the source image (the rest is canvas margin)
    teacher_expr: np.ndarray  # (N, 8) float32 open teachers' expression probabilities, NaN where not computed
    rated: np.ndarray        # (N,) bool: ``va`` is a human rating (else derived from the expression label)

    def __len__(self) -> int:
        return len(self.expression)

    def take(self, index: np.ndarray) -> "PreparedSet":
        return PreparedSet(self.name, self.crops[index], self.fitted[index], self.expression[index],
                           self.soft[index], self.aus[index], self.au_teacher[index], self.va[index],
                           self.blendshapes[index], self.inside[index], self.teacher_expr[index], self.rated[index])


def grey_crops(bgr_crops: np.ndarray) -> np.ndarray:
    """BGR uint8 crops -> grey uint8 with the model's own weights (GreyInput: 0.299 R + 0.587 G + 0.114 B)."""
    c = bgr_crops.astype(np.float32)
    grey = 0.114 * c[..., 0] + 0.587 * c[..., 1] + 0.299 * c[..., 2]
    return np.clip(grey + 0.5, 0, 255).astype(np.uint8)


def cache_key(cfg: FacesConfig, name: str) -> str:
    """The name a set's cached landmarks and teacher readings go under (a ``--limit`` subset has its own)."""
    return name if not cfg.limit else f"{name}-limit{cfg.limit}-seed{cfg.seed}"


def load_sets(cfg: FacesConfig, on_progress: Callable[[str], None] | None = None,
              skip: Sequence[str] = ()) -> dict[str, tuple[FaceSet, FaceFit]]:
    """Read every set found under ``cfg.data`` (but those named in ``skip``) and landmark it (cached)."""
    data = Path(cfg.data)
    readers = [("ferplus_train", data / "ferplus_train.npz", read_ferplus),
               ("ferplus_valid", data / "ferplus_valid.npz", read_ferplus),
               ("ckplus", data / "ckplus_train.npz", read_ckplus)]
    out = {}
    for name, path, reader in readers:
        if path.is_file() and name not in skip:
            out[name] = reader(path, name=name)
    csv_path = data / "muxspace" / "labels.csv"
    if cfg.use_csv_set and csv_path.is_file():
        out["muxspace"] = read_csv_folder(csv_path, name="muxspace")
    rated_path = data / "diffusionfer_s" / "labels.csv"
    if cfg.use_rated_set and rated_path.is_file():
        out["diffusionfer"] = read_csv_folder(rated_path, name="diffusionfer")
    if not any((data / f"{n}.npz").is_file() for n in ("ferplus_train", "ckplus_train")):
        from .data import DataError

        raise DataError(f"{data}: neither ferplus_train.npz nor ckplus_train.npz found (see ../shared/data/README.md)")
    fitted = {}
    for name, faces in out.items():
        if cfg.limit and len(faces) > cfg.limit:
            faces = faces.subset(np.random.default_rng(cfg.seed).choice(len(faces), cfg.limit, replace=False))
        fit = cached_fit(cache_key(cfg, name), faces.images, Path(cfg.cache), workers=cfg.workers)
        if on_progress:
            on_progress(f"{name}: {int(fit.fitted.sum())} of {len(faces)} faces fitted by the landmarker "
                        f"({fit.unfitted} not)")
        fitted[name] = (faces, fit)
    return fitted


def prepare(faces: FaceSet, fit: FaceFit, size: int, teacher: BlendshapeAUTeacher | None,
            teacher_expr: np.ndarray | None = None) -> PreparedSet:
    crops = grey_crops(aligned_crops(faces.images, fit, size))
    teach = teacher(fit.blendshapes) if teacher is not None else np.full((len(faces), len(ACTION_UNITS)), np.nan,
                                                                          np.float32)
    if teacher_expr is None:
        teacher_expr = np.full((len(faces), len(EXPRESSIONS)), np.nan, np.float32)
    return PreparedSet(faces.name, crops, fit.fitted, faces.expression, faces.soft, faces.aus, teach,
                       va_targets(faces), fit.blendshapes, aligned_masks(faces.images, fit, size), teacher_expr,
                       np.asarray(faces.rated, bool))


def cached_teacher_expression(name: str, key: str, faces: FaceSet, cache: Path) -> np.ndarray:
    """The open teacher ``name``'s expression probabilities on a set's original crops, cached beside the
    landmark cache (the set's file is the key, as for the landmarks)."""
    from .face_eval import teacher_expression

    path = Path(cache) / f"{key}.{name}.expr.npy"
    if path.is_file():
        probs = np.load(path)
        if probs.shape == (len(faces), len(EXPRESSIONS)):
            return probs
    probs = teacher_expression(name, faces.images).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path.with_suffix(".tmp.npy"), probs)
    path.with_suffix(".tmp.npy").replace(path)
    return probs


def va_targets(faces: FaceSet) -> np.ndarray:
    """(N, 2) VA targets: the human rating where a face has one, else derived from its expression."""
    va = va_from_expression(faces.soft)
    rated = faces.rated
    if rated.any():
        va[rated] = faces.va[rated]
    return va


@dataclass
class Splits:
    train: list[PreparedSet]
    val: dict[str, PreparedSet]
    teacher: BlendshapeAUTeacher | None
    ck_val_subjects: list[str]
    fit_report: dict[str, dict[str, int]]


def build_splits(cfg: FacesConfig, on_progress: Callable[[str], None] | None = None) -> Splits:
    """Training and validation sets: FER+ train / valid as published, CK+ by subject, the CSV set by file."""
    sets = load_sets(cfg, on_progress)
    report = {name: {"faces": len(f), "fitted": int(fit.fitted.sum()), "unfitted": fit.unfitted}
              for name, (f, fit) in sets.items()}
    teacher, ck_val_subjects = None, []
    ck_split = None
    if "ckplus" in sets and cfg.leave_out != "ckplus":
        faces, fit = sets["ckplus"]
        tr, va = split_groups(faces.groups, cfg.ck_val_fraction, cfg.seed)
        ck_split = (tr, va)
        ck_val_subjects = sorted(set(faces.groups[va].tolist()))
        ok = tr[fit.fitted[tr]]
        if cfg.au_teacher_min_auc > 0:
            teacher = BlendshapeAUTeacher.fit_checked(fit.blendshapes[ok], faces.aus[ok], faces.groups[ok],
                                                      cfg.au_teacher_min_auc, seed=cfg.seed)
            if on_progress:
                on_progress("AU teacher, cross-validated AUC on the CK+ training subjects: " + ", ".join(
                    f"{n} {a:.2f}{'' if u else ' (not used)'}"
                    for n, a, u in zip(ACTION_UNITS, teacher.cv_auc, teacher.usable)))
        else:
            teacher = BlendshapeAUTeacher.fit(fit.blendshapes[ok], faces.aus[ok])
    train: list[PreparedSet] = []
    val: dict[str, PreparedSet] = {}
    for name, (faces, fit) in sets.items():
        teacher_expr = None
        if cfg.distill_teacher and name not in ("ferplus_valid", cfg.leave_out):
            teacher_expr = cached_teacher_expression(cfg.distill_teacher, cache_key(cfg, name), faces, Path(cfg.cache))
        prepared = prepare(faces, fit, cfg.input_size, teacher, teacher_expr)
        if name == cfg.leave_out:
            val[f"{name}_left_out"] = prepared
        elif name == "ferplus_valid":
            val[name] = prepared
        elif name == "ckplus" and ck_split is not None:
            train.append(prepared.take(ck_split[0]))
            val["ckplus_val_subjects"] = prepared.take(ck_split[1])
        elif name == "muxspace" and cfg.csv_val_fraction > 0:
            tr, va = split_groups(faces.groups, cfg.csv_val_fraction, cfg.seed)
            train.append(prepared.take(tr))
            val["muxspace_val"] = prepared.take(va)
        elif name == "diffusionfer" and cfg.rated_val_fraction > 0:
            tr, va = split_groups(faces.groups, cfg.rated_val_fraction, cfg.seed)
            train.append(prepared.take(tr))
            val["diffusionfer_val"] = prepared.take(va)
        else:
            train.append(prepared)
    return Splits(train, val, teacher, ck_val_subjects, report)


def validation_sets(cfg: FacesConfig, on_progress: Callable[[str], None] | None = None):
    """(validation ``face_eval.EvalSet``s, the blendshape AU teacher fitted on the CK+ training subjects):
    FER+ validation, the held-out CK+ subjects and the CSV set's held-out files, the same splits as
    ``build_splits`` for the same seed."""
    from .face_eval import EvalSet

    sets = load_sets(cfg, on_progress, skip=("ferplus_train",))  # (training faces only: not landmarked here)
    out = []
    teacher = None
    for name, (faces, fit) in sets.items():
        if name == cfg.leave_out:
            out.append(EvalSet(f"{name} left out (every file, never trained on)", faces, fit))
        elif name == "ferplus_valid":
            out.append(EvalSet("FER+ validation", faces, fit))
        elif name == "ckplus":
            tr, va = split_groups(faces.groups, cfg.ck_val_fraction, cfg.seed)
            ok = tr[fit.fitted[tr]]
            teacher = BlendshapeAUTeacher.fit(fit.blendshapes[ok], faces.aus[ok])
            out.append(EvalSet("CK+ held-out subjects", faces.subset(va), _take_fit(fit, va)))
        elif name == "muxspace" and cfg.csv_val_fraction > 0:
            _, va = split_groups(faces.groups, cfg.csv_val_fraction, cfg.seed)
            out.append(EvalSet("muxspace held-out files", faces.subset(va), _take_fit(fit, va)))
        elif name == "diffusionfer" and cfg.rated_val_fraction > 0:
            _, va = split_groups(faces.groups, cfg.rated_val_fraction, cfg.seed)
            out.append(EvalSet("DiffusionFER held-out files (rated)", faces.subset(va), _take_fit(fit, va)))
    return out, teacher


def _take_fit(fit: FaceFit, index: np.ndarray) -> FaceFit:
    return FaceFit(fit.fitted[index], fit.points[index], fit.blendshapes[index])


def capped_per_class(index: np.ndarray, labels: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``cap`` of ``index`` per expression (``labels`` per entry of ``index``), drawn at random,
    sorted: how the CSV set, 92% neutral/happy, is capped. Same draws for the same ``rng`` state."""
    return np.sort(np.concatenate([rng.permutation(index[labels == c])[:cap] for c in range(len(EXPRESSIONS))]))


_FIELDS = ("crops", "fitted", "expression", "soft", "aus", "au_teacher", "va", "blendshapes", "inside",
           "teacher_expr", "rated")


def _concat(name: str, parts: list[PreparedSet]) -> PreparedSet:
    return PreparedSet(name, *[np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS])


def training_rows(train: list[PreparedSet], ck_repeat: int, csv_cap: int = 0, seed: int = 0,
                  rated_repeat: int = 1) -> PreparedSet:
    """All training faces with an expression label that the landmarker fitted (what the runtime would
    see), CK+ repeated ``ck_repeat`` times so its FACS codes are not drowned by 40k faces without AUs,
    the CSV set capped at ``csv_cap`` faces per class (0: no cap), the rated set repeated ``rated_repeat``
    times."""
    parts = []
    rng = np.random.default_rng(seed)
    for s in train:
        keep = np.flatnonzero(s.fitted & (s.expression >= 0))
        if s.name == "ckplus":
            keep = np.tile(keep, max(1, ck_repeat))
        elif s.name == "muxspace" and csv_cap > 0:
            keep = capped_per_class(keep, s.expression[keep], csv_cap, rng)
        elif s.name == "diffusionfer":
            keep = np.tile(keep, max(1, rated_repeat))
        parts.append(s.take(keep))
    return _concat("train", parts)


def unlabelled_rows(train: list[PreparedSet], csv_cap: int = 0, seed: int = 0) -> PreparedSet:
    """Fitted training faces the supervised recipe leaves out, for semi-supervised learning: faces
    without an expression majority (FER+ "unknown"), and the CSV set's faces beyond the per-class cap
    (their noisy labels withheld). Same selection as ``training_rows`` for the same seed."""
    parts = []
    rng = np.random.default_rng(seed)
    for s in train:
        pool = np.flatnonzero(s.fitted & (s.expression < 0))
        if s.name == "muxspace" and csv_cap > 0:
            keep = np.flatnonzero(s.fitted & (s.expression >= 0))
            capped = capped_per_class(keep, s.expression[keep], csv_cap, rng)
            pool = np.union1d(pool, np.setdiff1d(keep, capped))
        if s.name != "ckplus":
            parts.append(s.take(pool))
    if not parts:
        return train[0].take(np.zeros(0, np.int64))
    merged = _concat("unlabelled", parts)
    merged.expression = np.full(len(merged), -1, np.int64)
    return merged


def training_label_counts(cfg: FacesConfig) -> np.ndarray:
    """Expression counts (8,) of the faces one epoch of ``train_faces`` sees (same splits, caps, repeats),
    without making any crop: the label prior for logit adjustment."""
    sets = load_sets(cfg)
    counts = np.zeros(len(EXPRESSIONS), np.int64)
    rng = np.random.default_rng(cfg.seed)
    for name, (faces, fit) in sets.items():
        if name in ("ferplus_valid", cfg.leave_out):
            continue
        index = np.arange(len(faces))
        if name == "ckplus":
            index, _ = split_groups(faces.groups, cfg.ck_val_fraction, cfg.seed)
        elif name == "muxspace" and cfg.csv_val_fraction > 0:
            index, _ = split_groups(faces.groups, cfg.csv_val_fraction, cfg.seed)
        elif name == "diffusionfer" and cfg.rated_val_fraction > 0:
            index, _ = split_groups(faces.groups, cfg.rated_val_fraction, cfg.seed)
        keep = index[fit.fitted[index] & (faces.expression[index] >= 0)]
        labels = faces.expression[keep]
        if name == "ckplus":
            labels = np.tile(labels, max(1, cfg.ck_repeat))
        elif name == "diffusionfer":
            labels = np.tile(labels, max(1, cfg.rated_repeat))
        elif name == "muxspace" and cfg.csv_cap_per_class > 0:
            labels = np.concatenate([rng.permutation(labels[labels == c])[:cfg.csv_cap_per_class]
                                     for c in range(len(EXPRESSIONS))])
        counts += np.bincount(labels, minlength=len(EXPRESSIONS))
    return counts

