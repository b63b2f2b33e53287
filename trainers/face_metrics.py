"""Per-class figures for expression and AU predictions on labelled faces (pure numpy).

Expression: accuracy against the label (FER+: the majority vote), macro-F1 over the classes present in
the truth, recall per class, and the confusion matrix (rows: truth, columns: prediction). AUs: F1 per
AU at a threshold and macro-F1 over the AUs that occur (at least one positive) in the truth.
"""
from __future__ import annotations

import numpy as np

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS

from .metrics import f1_binary


def expression_report(prob: np.ndarray, truth: np.ndarray) -> dict:
    truth = np.asarray(truth)
    ok = truth >= 0
    pred = np.asarray(prob).argmax(-1)[ok]
    truth = truth[ok]
    k = len(EXPRESSIONS)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (truth, pred), 1)
    present = [c for c in range(k) if (truth == c).any()]
    recall = {EXPRESSIONS[c]: float(confusion[c, c] / confusion[c].sum()) for c in present}
    f1 = {EXPRESSIONS[c]: f1_binary((pred == c).astype(int), (truth == c).astype(int)) for c in present}
    return {
        "faces": int(truth.size),
        "accuracy": float((pred == truth).mean()) if truth.size else float("nan"),
        "macro_f1": float(np.mean(list(f1.values()))) if f1 else float("nan"),
        "recall": recall,
        "f1": f1,
        "support": {EXPRESSIONS[c]: int((truth == c).sum()) for c in present},
        "confusion": confusion.tolist(),
    }


def au_report(prob: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> dict:
    prob, truth = np.asarray(prob), np.asarray(truth)
    f1 = {}
    for j, name in enumerate(ACTION_UNITS):
        valid = truth[:, j] >= 0
        if valid.any() and (truth[valid, j] == 1).any():
            f1[name] = f1_binary((prob[valid, j] >= threshold).astype(int), truth[valid, j].astype(int))
    return {"f1": f1, "macro_f1": float(np.mean(list(f1.values()))) if f1 else float("nan"),
            "threshold": threshold}


__all__ = ["expression_report", "au_report"]
