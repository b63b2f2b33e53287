"""The faces recipe's losses and per-batch steps: class and AU weights, the multi-task loss with missing labels,
synthetic warps, mixup, masked co-training, semi-supervised pseudo-labels, teacher targets, and the student's
outputs on prepared crops."""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS

from .augment_batch import AugmentOptions
from .va_targets import va_from_expression

log = logging.getLogger(__name__)

SUPERVISED_WEIGHT, TEACHER_WEIGHT = 0.6, 0.4  # seed 004

from .faces_data import PreparedSet


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


def flip_averaged_readings(student, crops: np.ndarray, batch_size: int = 512) -> dict[str, np.ndarray]:
    """``student``'s readings averaged over each crop and its mirror image (a two-view ensemble, steadier than
    either view; seed 004's distillation teacher): "expression" (N, 8) and "action_units" (N, 12)
    probabilities, "valence_arousal" (N, 2)."""
    import torch

    student.eval()
    parts: dict[str, list[np.ndarray]] = {"expression": [], "action_units": [], "valence_arousal": []}
    with torch.no_grad():
        for i in range(0, len(crops), batch_size):
            part = crops[i:i + batch_size]
            out = student(_as_input(np.ascontiguousarray(np.concatenate([part, part[:, :, ::-1]]))))
            read = {"expression": out["expression_logits"].softmax(-1), "action_units": out["au_logits"].sigmoid(),
                    "valence_arousal": out["valence_arousal"]}
            for key, value in read.items():
                v = value.numpy()
                parts[key].append((v[:len(part)] + v[len(part):]) / 2)
    widths = {"expression": len(EXPRESSIONS), "action_units": len(ACTION_UNITS), "valence_arousal": 2}
    return {k: (np.concatenate(v) if v else np.zeros((0, widths[k]))).astype(np.float32) for k, v in parts.items()}


def flip_averaged_expression(student, crops: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """(N, 8) expression probabilities of ``student`` averaged over each crop and its mirror image."""
    return flip_averaged_readings(student, crops, batch_size)["expression"]


def teacher_student(path):
    """The student of checkpoint ``path`` without the logit bias it was shipped with (a serving choice, tuned on
    validation): teachers and starting points are read as trained, so the bias is not applied twice. Its own
    mirror averaging is switched off: ``flip_averaged_readings`` reads both views itself."""
    import torch

    from realtime_affect.models.checkpoint import load_checkpoint

    loaded = load_checkpoint(path)
    student = loaded.student
    student.mirror_average = False  # the callers average the mirror views themselves (else 4 views, 2x the time)
    bias = (loaded.card.extra or {}).get("expression_logit_bias") or {}
    with torch.no_grad():
        for name, value in bias.items():
            student.expression.bias[EXPRESSIONS.index(name)] -= float(value)
    return student, bias


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
