"""How well a served model agrees with the teacher ensemble on held-out clips, and how smooth it is.

Per clip: expression top-1 agreement, mean per-AU Pearson correlation, valence/arousal CCC against the
teachers, and temporal jitter (mean absolute frame-to-frame change of all outputs) for the per-frame
student and for the GRU. Runs the real runtime, so it measures what users get.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass
class ClipAgreement:
    clip: str
    faces: int
    expression_top1_student: float
    expression_top1_sequence: float
    au_correlation_student: float
    au_correlation_sequence: float
    va_ccc_student: float
    va_ccc_sequence: float
    jitter_student: float
    jitter_sequence: float
    jitter_teacher: float


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    values = []
    for j in range(a.shape[1]):
        if a[:, j].std() > 1e-6 and b[:, j].std() > 1e-6:
            values.append(np.corrcoef(a[:, j], b[:, j])[0, 1])
    return float(np.mean(values)) if values else float("nan")


def _jitter(x: np.ndarray) -> float:
    return float(np.abs(np.diff(x, axis=0)).mean()) if len(x) > 1 else float("nan")


def clip_agreement(model_path: Path, clip: Path) -> ClipAgreement:
    """Run the model on a clip (with and without the GRU) and the teachers on the same faces."""
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.models.loader import open_model
    from realtime_affect.runner import analyze_video
    from realtime_affect.sources import VideoSource
    from trainers.metrics import ccc

    from .ensemble import TeacherEnsemble

    teachers = TeacherEnsemble()
    outputs: dict[bool, dict[tuple[int, int], np.ndarray]] = {True: {}, False: {}}
    teacher: dict[tuple[int, int], np.ndarray] = {}
    with open_model(model_path) as model:
        for temporal in (True, False):
            with VideoSource(clip) as source:
                for result in analyze_video(model, source, AnalyzerOptions(temporal=temporal)):
                    labels = teachers.label(result.frame.bgr, [f.face for f in result.faces]) if temporal else []
                    for i, face in enumerate(result.faces):
                        key = (result.frame.index, face.track_id)
                        p = face.prediction
                        outputs[temporal][key] = np.concatenate([p.expression, p.action_units, p.valence_arousal])
                        if temporal:
                            t = labels[i]
                            teacher[key] = np.concatenate([t.expression, t.action_units, t.valence_arousal])
    keys = sorted(k for k in teacher if k in outputs[False])
    if not keys:
        raise ValueError(f"{clip}: no face to compare")
    t = np.stack([teacher[k] for k in keys])
    res = {}
    for temporal, name in ((False, "student"), (True, "sequence")):
        o = np.stack([outputs[temporal][k] for k in keys])
        res[f"expression_top1_{name}"] = float((o[:, :8].argmax(1) == t[:, :8].argmax(1)).mean())
        res[f"au_correlation_{name}"] = _corr(o[:, 8:20], t[:, 8:20])
        res[f"va_ccc_{name}"] = float(np.nanmean([ccc(o[:, 20 + d], t[:, 20 + d]) for d in range(2)]))
        res[f"jitter_{name}"] = _jitter(o)
    return ClipAgreement(clip=clip.name, faces=len(keys), jitter_teacher=_jitter(t), **res)


def write_report(rows: list[ClipAgreement], path: Path, title: str) -> None:
    """A small markdown table plus the same figures as JSON beside it."""
    import json

    cols = [c for c in asdict(rows[0]) if c != "clip"]
    lines = [f"# {title}", "", "| clip | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rows:
        d = asdict(r)
        lines.append(f"| {r.clip} | " + " | ".join(f"{d[c]:.3f}" if isinstance(d[c], float) else str(d[c])
                                                   for c in cols) + " |")
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
