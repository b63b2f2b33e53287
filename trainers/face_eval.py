"""Score model files on labelled faces through the runtime's own path.

Each face is set on the landmarker's canvas (``face_cache``), aligned with ``realtime_affect.faces.align`` at
the model card's input size, normalised with ``align.to_input`` and run by the model's backend (torch
checkpoint, ONNX Runtime, TensorRT): exactly what ``affect-live`` does to a face in a frame. The open
teachers (face-api, fer) are scored on the original tight face crop with their own preprocessing, as the
teacher ensemble feeds them the landmarks' box.

Faces the landmarker could not fit are scored with the set's mean alignment and reported both ways:
all faces, and only the faces the runtime would have found.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from realtime_affect.labels import EXPRESSIONS

from .face_cache import FaceFit, aligned_crops
from .face_metrics import au_report, expression_report
from .facesets import FaceSet


@dataclass
class EvalSet:
    """A labelled validation set with its landmark fit."""

    name: str
    faces: FaceSet
    fit: FaceFit


def run_model_file(path: str | Path, s: EvalSet, backend: str = "auto", batch: int = 64) -> dict[str, np.ndarray]:
    """Outputs of a model file's student on every face of the set (the runtime's crop and input path)."""
    from realtime_affect.models.loader import open_model
    from realtime_affect.faces import align

    with open_model(path, backend=backend) as model:
        card = model.card
        crops = aligned_crops(s.faces.images, s.fit, card.input_size)
        outs: dict[str, list[np.ndarray]] = {}
        for i in range(0, len(crops), batch):
            o = model.student(align.to_input(crops[i:i + batch], card.mean, card.std))
            for k, v in o.items():
                outs.setdefault(k, []).append(np.asarray(v))
    return {k: np.concatenate(v) for k, v in outs.items()}


def run_teacher(name: str, s: EvalSet) -> dict[str, np.ndarray]:
    """Expression probabilities (ABAW order; 'other' = 0) of one open teacher on the original face crops."""
    return {"expression": teacher_expression(name, s.faces.images)}


def teacher_expression(name: str, images) -> np.ndarray:
    """(N, 8) expression probabilities (ABAW order; 'other' = 0) of the open teacher ``name`` (face-api or
    fer) on original face crops (BGR or grey), each with the teacher's own preprocessing."""
    import cv2
    import torch

    from .teachers import faceapi as fa
    from .teachers import fer as fe
    from .teachers.ensemble import WEIGHTS_DIR

    bgr = [img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) for img in images]
    with torch.no_grad():
        if name == "face-api":
            net = fa.load_faceapi(WEIGHTS_DIR)
            raw = np.concatenate([net(torch.from_numpy(np.stack([fa.faceapi_input(c[..., ::-1]) for c in bgr[i:i + 256]])))
                                  .numpy() for i in range(0, len(bgr), 256)])
            order = fa.TO_ABAW
        elif name == "fer":
            net = fe.load_fer(WEIGHTS_DIR / "fer_emotion_model.npz")
            raw = np.concatenate([net(torch.from_numpy(np.stack([fe.fer_input(c) for c in bgr[i:i + 256]]))).numpy()
                                  for i in range(0, len(bgr), 256)])
            order = fe.TO_ABAW
        else:
            raise ValueError(f"unknown teacher {name!r}; choose face-api or fer")
    expr = np.zeros((len(bgr), len(EXPRESSIONS)), np.float32)
    expr[:, :7] = raw[:, list(order)]
    return expr


def score(outputs: dict[str, np.ndarray], s: EvalSet) -> dict:
    """Expression (all faces, and fitted faces only) and AU figures of one model on one set."""
    result = {"set": s.name, "faces": int((s.faces.expression >= 0).sum()), "unfitted": s.fit.unfitted}
    if "expression" in outputs:
        expr = outputs["expression"]
        result["expression"] = expression_report(expr, s.faces.expression)
        result["expression_fitted"] = expression_report(expr[s.fit.fitted], s.faces.expression[s.fit.fitted])
    if "action_units" in outputs and (s.faces.aus >= 0).any():
        result["action_units"] = au_report(outputs["action_units"], s.faces.aus)
    rated = s.faces.rated
    if "valence_arousal" in outputs and rated.any():
        result["valence_arousal"] = va_report(outputs["valence_arousal"][rated], s.faces.va[rated])
    if "valence_arousal" in outputs and (s.faces.expression >= 0).any():
        result["va_by_class"] = va_by_class(outputs["valence_arousal"], s.faces.expression, s.faces.va, rated)
    return result


def va_by_class(pred: np.ndarray, labels: np.ndarray, rating: np.ndarray | None = None,
                rated: np.ndarray | None = None) -> dict[str, dict]:
    """Mean predicted valence/arousal per labelled expression, beside the circumplex point the class sits at
    (``trainers/va_targets.py``) and, where the set has ratings, the raters' mean over the same faces: does
    the model place each class where people (and the circumplex) do?"""
    from .va_targets import VA_CENTROIDS

    out: dict[str, dict] = {}
    for k, name in enumerate(EXPRESSIONS):
        sel = labels == k
        if not sel.any():
            continue
        row = {"faces": int(sel.sum()), "predicted": [float(v) for v in pred[sel].mean(0)],
               "circumplex": [float(v) for v in VA_CENTROIDS[k]]}
        if rating is not None and rated is not None and (sel & rated).any():
            row["rated"] = [float(v) for v in rating[sel & rated].mean(0)]
        out[name] = row
    return out


def va_report(pred: np.ndarray, rating: np.ndarray) -> dict:
    """Concordance (CCC), Pearson r and mean absolute error of valence and arousal against human ratings."""
    from .metrics import ccc

    out: dict = {"faces": int(len(rating))}
    for d, name in enumerate(("valence", "arousal")):
        p, t = pred[:, d].astype(np.float64), rating[:, d].astype(np.float64)
        out[name] = {"ccc": float(ccc(p, t)), "pearson": float(np.corrcoef(p, t)[0, 1]) if len(t) > 1 else float("nan"),
                     "mae": float(np.abs(p - t).mean())}
    return out


def markdown_table(results: dict[str, list[dict]]) -> str:
    """One markdown section per set: a row per model with accuracy, macro-F1, recall per class, AU F1."""
    lines: list[str] = []
    sets: dict[str, list[tuple[str, dict]]] = {}
    for model, per_set in results.items():
        for r in per_set:
            sets.setdefault(r["set"], []).append((model, r))
    for set_name, rows in sets.items():
        first = rows[0][1]
        lines.append(f"### {set_name} ({first['faces']} faces with an expression label; "
                     f"{first['unfitted']} faces not fitted by the landmarker)")
        lines.append("")
        expr_rows = [(m, r) for m, r in rows if "expression" in r]
        classes = list(expr_rows[0][1]["expression"]["recall"]) if expr_rows else []
        head = ["model", "accuracy", "accuracy (fitted)", "macro-F1"] + [f"recall {c}" for c in classes]
        if expr_rows:
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
        for model, r in expr_rows:
            e = r["expression"]
            cells = [model, f"{e['accuracy']:.3f}", f"{r['expression_fitted']['accuracy']:.3f}", f"{e['macro_f1']:.3f}"]
            cells += [f"{e['recall'].get(c, float('nan')):.2f}" for c in classes]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        au_rows = [(m, r["action_units"]) for m, r in rows if "action_units" in r]
        if au_rows:
            aus = list(au_rows[0][1]["f1"])
            head = ["model", "AU macro-F1"] + aus
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
            for model, a in au_rows:
                lines.append("| " + " | ".join([model, f"{a['macro_f1']:.3f}"] + [f"{a['f1'][u]:.2f}" for u in aus]) + " |")
            lines.append("")
        va_rows = [(m, r["valence_arousal"]) for m, r in rows if "valence_arousal" in r]
        if va_rows:
            lines.append(f"Valence/arousal against human ratings ({va_rows[0][1]['faces']} rated faces):")
            lines.append("")
            lines.append("| model | CCC valence | CCC arousal | r valence | r arousal | MAE valence | MAE arousal |")
            lines.append("|---|---|---|---|---|---|---|")
            for model, v in va_rows:
                cells = [model] + [f"{v[d][k]:.3f}" for k in ("ccc", "pearson", "mae") for d in ("valence", "arousal")]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        lines += va_by_class_table([(m, r["va_by_class"]) for m, r in rows if "va_by_class" in r])
    return "\n".join(lines)


def va_by_class_table(rows: list[tuple[str, dict]]) -> list[str]:
    """Markdown lines: mean (valence, arousal) per labelled class for each model, the circumplex point and,
    where present, the raters' mean."""
    if not rows:
        return []
    first = rows[0][1]
    classes = list(first)
    has_rated = any("rated" in first[c] for c in classes)
    fmt = lambda va: f"{va[0]:+.2f} / {va[1]:+.2f}"  # noqa: E731
    lines = ["Mean valence / arousal per labelled class (the circumplex point each class's derived targets sit at"
             + (", and the raters' mean on the same faces" if has_rated else "") + "):", "",
             "| | " + " | ".join(f"{c} ({first[c]['faces']})" for c in classes) + " |",
             "|" + "---|" * (len(classes) + 1)]
    if has_rated:
        lines.append("| raters | " + " | ".join(fmt(first[c]["rated"]) if "rated" in first[c] else "-"
                                               for c in classes) + " |")
    lines.append("| circumplex | " + " | ".join(fmt(first[c]["circumplex"]) for c in classes) + " |")
    for model, by in rows:
        lines.append(f"| {model} | " + " | ".join(fmt(by[c]["predicted"]) if c in by else "-" for c in classes) + " |")
    lines.append("")
    return lines


READING_NOTES = """How to read this: expression accuracy is against the label (FER+: the majority of 10 votes over the
8 classes; faces whose majority is "unknown" or "not a face" are left out), on every labelled face; "accuracy
(fitted)" only on the faces the runtime's landmarker fits (the others were aligned with the set's mean points).
Macro-F1 is over the classes present in the set; recall per class; AU F1 at a 0.5 threshold, macro over the
AUs with at least one positive face. Model files run through the runtime's crop path (landmarks, `align`,
the card's input size); the open teachers read the original face crops with their own preprocessing. The fer
teacher was trained on FER2013, whose images FER+ relabels: its FER+ figures may include faces it learnt
from. The blendshape AU teacher is fitted on the CK+ training subjects. Made by `affect-train faces-eval`;
the JSON file beside this one holds every figure and the confusion matrices."""


def write_report(results: dict[str, list[dict]], markdown: Path, title: str = "Evaluation",
                 notes: str = READING_NOTES) -> Path:
    """Write ``markdown`` and a JSON file beside it (same stem) with every figure, confusion matrices included."""
    markdown = Path(markdown)
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.with_suffix(".json").write_text(json.dumps(results, indent=1))
    markdown.write_text(f"# {title}\n\n{notes}\n\n" + markdown_table(results) + "\n")
    return markdown


def model_labels(models: Sequence[str | Path]) -> list[str]:
    """A distinct report label per model file: its name, with as many parent folders as it takes to tell
    files of the same name apart (two runs' ``student.pt`` become ``run_a/student.pt`` and ``run_b/student.pt``;
    a label shared by two entries would otherwise keep only the last one's figures)."""
    paths = [Path(m) for m in models]
    depth = 1
    while True:
        labels = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(labels)) == len(labels) or all(depth >= len(p.parts) for p in paths):
            break
        depth += 1
    seen: dict[str, int] = {}
    out = []
    for label in labels:                      # the same file given twice: numbered rather than dropped
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def evaluate(models: Sequence[str | Path], sets: Sequence[EvalSet], teachers: Sequence[str] = (),
             backend: str = "auto", au_teacher=None) -> dict[str, list[dict]]:
    """Figures of every model file and teacher on every set; ``au_teacher`` (a ``BlendshapeAUTeacher``) is
    scored on the sets with FACS codes, from the blendshapes of the same landmarker run."""
    results: dict[str, list[dict]] = {}
    for label, path in zip(model_labels(models), models):
        results[label] = [score(run_model_file(path, s, backend), s) for s in sets]
    for name in teachers:
        results[f"teacher {name}"] = [score(run_teacher(name, s), s) for s in sets]
    if au_teacher is not None:
        coded = [s for s in sets if (s.faces.aus >= 0).any()]
        if coded:
            results["teacher blendshape-AU"] = [score({"action_units": np.nan_to_num(au_teacher(s.fit.blendshapes))}, s)
                                                for s in coded]
    return results


__all__ = ["EvalSet", "run_model_file", "run_teacher", "teacher_expression", "score", "va_report", "va_by_class", "markdown_table", "write_report", "evaluate", "model_labels"]
