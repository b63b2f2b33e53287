"""Per-person baseline on Yale faces: per-class accuracy without and with each person's own neutral photo.

Yale Face Database A (``../shared/data/yalefaces``): 15 people, each photographed in 11 conditions. The
``normal`` photo of each person is their baseline (never scored); scored are their ``happy``, ``sad`` and
``surprised`` photos and, as neutral, the five photos with a neutral expression under other conditions
(``glasses``, ``noglasses``, ``centerlight``, ``leftlight``, ``rightlight``). Every photo is read by the runtime
(``Analyzer.images``, the largest face); the correction is ``temporal.baseline.correct``, the one the runtime
applies, with several strengths and caps so the choice is made on these figures.

    python scripts/baseline_eval.py [--model assets/default_model.onnx] [--out docs/baseline.md]
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NEUTRAL_CONDITIONS = ("glasses", "noglasses", "centerlight", "leftlight", "rightlight")
SCORED = {"happy": "happiness", "sad": "sadness", "surprised": "surprise",
          **{c: "neutral" for c in NEUTRAL_CONDITIONS}}
CLASSES = ("neutral", "happiness", "sadness", "surprise")
SETTINGS = [("none", None), ("probabilities, strength 0.5", ("prob", 0.5, 1.5)),
            ("probabilities, strength 1", ("prob", 1.0, 1.5)),
            ("log-probabilities, strength 1, cap 1.5", ("log", 1.0, 1.5, 0.0)),
            ("log-probabilities, strength 1, cap 3", ("log", 1.0, 3.0, 0.0)),
            ("log-probabilities floored at 0.02, strength 1, cap 2 (the default)", ("log", 1.0, 2.0, 0.02)),
            ("log-probabilities floored at 0.05, strength 1, cap 2", ("log", 1.0, 2.0, 0.05)),
            ("log-probabilities floored at 0.05, strength 1, no cap", ("log", 1.0, 99.0, 0.05))]


def auc(pairs: list[tuple[float, bool]]) -> float:
    """Area under the ROC curve of scores for positives vs negatives (ties count half)."""
    pos = np.array([s for s, y in pairs if y])
    neg = np.array([s for s, y in pairs if not y])
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
                 / (len(pos) * len(neg)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model file (default: the bundled model)")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "yalefaces")
    p.add_argument("--out", type=Path, help="markdown report")
    p.add_argument("--reference", type=Path, help="a neutral reading (JSON, scripts/neutral_reference.py) to use "
                   "instead of the card's")
    args = p.parse_args()
    from realtime_affect import Analyzer
    from realtime_affect.analysis.options import AnalyzerOptions, FinderOptions
    from realtime_affect.labels import EXPRESSIONS
    from realtime_affect.temporal.baseline import CorrectionOptions, NeutralReading, correct, reference_from_card

    rows = list(csv.DictReader(open(args.data / "labels.csv", newline="")))
    wanted = [r for r in rows if r["condition"] in SCORED or r["condition"] == "normal"]
    paths = [args.data / r["image"] for r in wanted]
    preds = {}
    with Analyzer(args.model, options=AnalyzerOptions(finder=FinderOptions(max_faces=1))) as analyzer:
        for result in analyzer.images(paths):
            if result.faces:
                preds[Path(result.frame.image_path).name] = result.faces[0].prediction
        card = analyzer.model.card
    reference = reference_from_card(card)
    if args.reference:
        import json

        reference = NeutralReading.from_dict(json.loads(args.reference.read_text()))
    baselines = {r["subject"]: NeutralReading.from_predictions([preds[Path(r["image"]).name]])
                 for r in wanted if r["condition"] == "normal" and Path(r["image"]).name in preds}
    tests = [(r["subject"], SCORED[r["condition"]], preds.get(Path(r["image"]).name)) for r in wanted
             if r["condition"] in SCORED]
    missed = sum(1 for _, _, pr in tests if pr is None)
    table = []
    for name, setting in SETTINGS:
        hits, totals = defaultdict(int), defaultdict(int)
        scores: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        for subject, label, pred in tests:
            if pred is None or subject not in baselines:
                continue
            if setting is not None:
                pred = correct(pred, baselines[subject], reference,
                               CorrectionOptions(*setting[1:3], space=setting[0],
                                                 floor=setting[3] if len(setting) > 3 else 0.0))
            totals[label] += 1
            hits[label] += EXPRESSIONS[int(np.argmax(pred.expression))] == label
            for c in CLASSES[1:]:
                if label in (c, "neutral"):
                    scores[c].append((float(pred.expression[EXPRESSIONS.index(c)]), label == c))
        acc = sum(hits.values()) / max(1, sum(totals.values()))
        recalls = [hits[c] / max(1, totals[c]) for c in CLASSES]
        table.append((name, acc, recalls, dict(totals), [auc(scores[c]) for c in CLASSES[1:]]))
    lines = [f"# Per-person baseline on Yale faces ({card.name} {card.version})", "",
             f"{len(baselines)} people; each person's `normal` photo is their baseline (not scored). Scored: "
             f"{len(tests) - missed} photos ({missed} without a face found). Made by `python scripts/baseline_eval.py`.",
             "", "| baseline | accuracy | " + " | ".join(f"recall {c} ({table[0][3].get(c, 0)})" for c in CLASSES)
             + " | " + " | ".join(f"AUC {c} vs neutral" for c in CLASSES[1:]) + " |",
             "|---|---|" + "---|" * (2 * len(CLASSES) - 1)]
    for name, acc, recalls, _, aucs in table:
        lines.append(f"| {name} | {acc:.3f} | " + " | ".join(f"{r:.2f}" for r in recalls) + " | "
                     + " | ".join(f"{a:.3f}" for a in aucs) + " |")
    lines += ["", "AUC: how well the class's probability ranks that class's photos above the neutral photos "
              "(0.5: chance, 1: perfect); the baseline matters most here, as sadness in Yale is too subtle to "
              "become the top class."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
