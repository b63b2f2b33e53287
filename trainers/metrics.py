"""ABAW metrics in numpy: CCC for valence/arousal, macro F1 for expressions and AUs, P_MTL."""
from __future__ import annotations

import numpy as np

from realtime_affect.labels import MISSING_VA


def ccc(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 2:
        return float("nan")
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(), y.var()
    cov = ((x - mx) * (y - my)).mean()
    denom = vx + vy + (mx - my) ** 2
    return float(2 * cov / denom) if denom > 0 else 0.0


def f1_binary(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float(np.sum((pred == 1) & (truth == 1)))
    fp = float(np.sum((pred == 1) & (truth == 0)))
    fn = float(np.sum((pred == 0) & (truth == 1)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def macro_f1_expression(pred: np.ndarray, truth: np.ndarray, classes: int = 8) -> float:
    """Macro F1 over all ``classes`` expressions, on samples with a label (truth >= 0)."""
    valid = truth >= 0
    pred, truth = pred[valid], truth[valid]
    if truth.size == 0:
        return float("nan")
    return float(np.mean([f1_binary((pred == c).astype(int), (truth == c).astype(int)) for c in range(classes)]))


def macro_f1_au(prob: np.ndarray, truth: np.ndarray, threshold: float | np.ndarray = 0.5) -> float:
    """Macro F1 over AUs (columns), each on its valid rows (truth >= 0)."""
    scores = []
    thr = np.broadcast_to(np.asarray(threshold, np.float64), (truth.shape[1],))
    for j in range(truth.shape[1]):
        valid = truth[:, j] >= 0
        if valid.any():
            scores.append(f1_binary((prob[valid, j] >= thr[j]).astype(int), truth[valid, j].astype(int)))
    return float(np.mean(scores)) if scores else float("nan")


def abaw_metrics(expr_prob: np.ndarray, expr_true: np.ndarray, au_prob: np.ndarray, au_true: np.ndarray,
                 va_pred: np.ndarray, va_true: np.ndarray) -> dict[str, float]:
    """The ABAW MTL table: ccc_valence, ccc_arousal, f1_expression, f1_au and p_mtl (their sum with mean CCC)."""
    out: dict[str, float] = {}
    for d, name in enumerate(("valence", "arousal")):
        valid = va_true[:, d] > MISSING_VA + 0.5
        out[f"ccc_{name}"] = ccc(va_pred[valid, d], va_true[valid, d]) if valid.sum() >= 2 else float("nan")
    out["f1_expression"] = macro_f1_expression(np.asarray(expr_prob).argmax(-1), np.asarray(expr_true))
    out["f1_au"] = macro_f1_au(np.asarray(au_prob), np.asarray(au_true))
    out["auc_au"] = mean_au_auc(np.asarray(au_prob), np.asarray(au_true))
    parts = [np.nanmean([out["ccc_valence"], out["ccc_arousal"]]) if not (
        np.isnan(out["ccc_valence"]) and np.isnan(out["ccc_arousal"])) else np.nan,
        out["f1_expression"], out["f1_au"]]
    out["p_mtl"] = float(np.nansum(parts)) if not all(np.isnan(p) for p in parts) else float("nan")
    return out


def roc_auc(score: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks averaged); NaN with one class only."""
    score, truth = np.asarray(score, np.float64), np.asarray(truth)
    pos, neg = truth == 1, truth == 0
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    i = 0
    while i < len(score):  # average ranks over ties
        j = i
        while j + 1 < len(score) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    sel = pos | neg
    r = ranks[pos & sel].sum()
    return float((r - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def mean_au_auc(prob: np.ndarray, truth: np.ndarray) -> float:
    """Mean ROC-AUC over AUs, each on its valid rows (threshold-free: shows learning before F1 does)."""
    values = []
    for j in range(truth.shape[1]):
        valid = truth[:, j] >= 0
        values.append(roc_auc(prob[valid, j], truth[valid, j]))
    return float(np.nanmean(values)) if not all(np.isnan(values)) else float("nan")
