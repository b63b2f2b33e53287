"""Losses of the seed papers, each masking missing labels (expression -1, AU row -1, VA -5).

A batch where a task has no valid label gives exactly zero for that task (never NaN), and keeps the
graph connected so DDP and AMP see every parameter.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from realtime_affect.labels import MISSING_VA


def _zero(ref: torch.Tensor) -> torch.Tensor:
    return ref.sum() * 0.0


def class_weights(counts: torch.Tensor) -> torch.Tensor:
    """W_c = N / n_c (SS-MFAR); classes never seen get weight 0 (they cannot be in a batch anyway)."""
    counts = counts.float()
    total = counts.sum()
    return torch.where(counts > 0, total / counts.clamp(min=1), torch.zeros_like(counts))


def au_pos_weight(positives: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Per-AU pos_weight = negatives / positives (1 where an AU has no positive)."""
    return torch.where(positives > 0, negatives.float() / positives.float().clamp(min=1),
                       torch.ones_like(positives, dtype=torch.float32))


def expression_ce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Class-weighted cross entropy over samples with a label (target >= 0); weighted mean like torch."""
    valid = target >= 0
    if not bool(valid.any()):
        return _zero(logits)
    return F.cross_entropy(logits[valid], target[valid].long(), weight=weight)


def au_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """BCE with per-AU pos_weight, averaged over valid entries (a row of -1 is missing; so is any -1)."""
    valid = target >= 0
    if not bool(valid.any()):
        return _zero(logits)
    losses = F.binary_cross_entropy_with_logits(logits, target.clamp(min=0).float(), pos_weight=pos_weight,
                                                reduction="none")
    return losses[valid].mean()


def ccc(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Concordance correlation coefficient of two 1-D tensors (population statistics)."""
    mx, my = x.mean(), y.mean()
    vx, vy = ((x - mx) ** 2).mean(), ((y - my) ** 2).mean()
    cov = ((x - mx) * (y - my)).mean()
    return 2 * cov / (vx + vy + (mx - my) ** 2 + 1e-8)


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over valence and arousal of 1 - CCC, each over its valid samples (target != -5)."""
    losses = []
    for d in range(pred.shape[-1]):
        valid = target[..., d] > MISSING_VA + 0.5
        if int(valid.sum()) >= 2:
            losses.append(1.0 - ccc(pred[..., d][valid], target[..., d][valid]))
    if not losses:
        return _zero(pred)
    return torch.stack(losses).mean()


def symmetric_kl(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-sample sum over classes of p log(p/q) + q log(q/p) (SS-MFAR Eq. 8)."""
    p, q = p.clamp(min=eps), q.clamp(min=eps)
    return (p * (p / q).log() + q * (q / p).log()).sum(-1)


def adaptive_thresholds(probs: torch.Tensor, labels: torch.Tensor, epoch: int, beta: float = 0.95,
                        gamma: float = math.e, num_classes: int = 8) -> torch.Tensor:
    """T_c = beta * mean(p_c over labelled samples of class c predicted correctly) / (1 + gamma^-epoch).

    Classes without such samples get threshold 1 (nothing of that class is confident yet).
    """
    pred = probs.argmax(-1)
    out = torch.ones(num_classes, dtype=probs.dtype, device=probs.device)
    for c in range(num_classes):
        sel = (labels == c) & (pred == c)
        if bool(sel.any()):
            out[c] = beta * probs[sel, c].mean() / (1.0 + gamma ** (-epoch))
    return out


def semi_supervised_expression_loss(weak_logits: torch.Tensor, strong_logits: torch.Tensor,
                                    thresholds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SS-MFAR on unlabelled samples: (CE on confident strong predictions, symmetric KL on the rest).

    Pseudo-labels come from the weak view (no gradient); a sample is confident when its top
    probability reaches its class's adaptive threshold.
    """
    if weak_logits.shape[0] == 0:
        return _zero(strong_logits), _zero(strong_logits)
    p_weak = weak_logits.detach().softmax(-1)
    conf, pseudo = p_weak.max(-1)
    confident = conf >= thresholds[pseudo]
    ce = F.cross_entropy(strong_logits[confident], pseudo[confident]) if bool(confident.any()) \
        else _zero(strong_logits)
    rest = ~confident
    kl = symmetric_kl(weak_logits[rest].softmax(-1), strong_logits[rest].softmax(-1)).mean() \
        if bool(rest.any()) else _zero(strong_logits)
    return ce, kl


SS_MFAR_WEIGHTS = (0.5, 1.0, 0.1)  # lambda1 (supervised CE), lambda2 (unsupervised CE), lambda3 (KL)


def distillation_kl(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float = 1.0,
                    valid: torch.Tensor | None = None) -> torch.Tensor:
    """KL(teacher || student) at temperature T, scaled by T^2; rows with ``valid`` False are skipped."""
    if valid is not None:
        student_logits, teacher_probs = student_logits[valid], teacher_probs[valid]
    if student_logits.shape[0] == 0:
        return _zero(student_logits)
    log_q = F.log_softmax(student_logits / temperature, dim=-1)
    p = teacher_probs.clamp(min=1e-8)
    if temperature != 1.0:
        p = (p.log() / temperature).softmax(-1)
    return (p * (p.log() - log_q)).sum(-1).mean() * temperature ** 2


def distilled(supervised: torch.Tensor, soft: torch.Tensor, has_truth: bool, lam: float = 0.6) -> torch.Tensor:
    """Seed 004: lam * supervised + (1 - lam) * KL where ground truth exists, the soft term alone where not."""
    return lam * supervised + (1 - lam) * soft if has_truth else soft


def va_bins(values: torch.Tensor, bins: int = 20) -> torch.Tensor:
    """Bin indices of values in [-1, 1] for VA-as-classification (seed 004); missing (-5) -> -1."""
    idx = ((values.clamp(-1, 1) + 1) / 2 * bins).long().clamp(max=bins - 1)
    return torch.where(values > MISSING_VA + 0.5, idx, torch.full_like(idx, -1))


def va_binned_loss(bin_logits: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """CE over VA bins plus CCC of the bins' expected value; bin_logits (N, 2, bins)."""
    bins = bin_logits.shape[-1]
    target = va_bins(values, bins)
    ce = [expression_ce(bin_logits[:, d], target[:, d]) for d in range(bin_logits.shape[1])]
    centres = torch.linspace(-1 + 1 / bins, 1 - 1 / bins, bins, device=bin_logits.device)
    expected = (bin_logits.softmax(-1) * centres).sum(-1)
    return torch.stack(ce).mean() + ccc_loss(expected, values)


def js_consistency(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence between two views' predictions (masked co-training, seed 001)."""
    p, q = logits_a.softmax(-1), logits_b.softmax(-1)
    m = 0.5 * (p + q)
    kl = lambda a, b: (a.clamp(min=1e-8) * (a.clamp(min=1e-8) / b.clamp(min=1e-8)).log()).sum(-1)  # noqa: E731
    return (0.5 * kl(p, m) + 0.5 * kl(q, m)).mean()
