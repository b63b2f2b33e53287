"""The leave-one-dataset-out table of docs/round3.md from training runs' ``history.json`` (the last epoch of each):
FER+ validation accuracy and recall of the rare classes, the left-out set's accuracy and recall of anger and
disgust (the figures issue 29 moves), and DiffusionFER's held-out valence/arousal CCC.

    python scripts/lodo_table.py RUN_DIR [RUN_DIR ...] [--names "base,class power 1.0"]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def row(name: str, run: Path) -> str:
    history = json.loads((run / "history.json").read_text())
    last = history[-1]
    left = next((k.split("/")[0] for k in last if k.endswith("_left_out/accuracy")), None)

    def f(key: str) -> str:
        value = last.get(key)
        return "–" if value is None else f"{value:.3f}"

    cells = [name, str(last["epoch"]), f("ferplus_valid/accuracy"),
             *(f(f"ferplus_valid/recall_{c}") for c in ("anger", "disgust", "fear", "sadness")),
             left.replace("_left_out", "") if left else "–",
             *(f(f"{left}/{k}") if left else "–" for k in ("accuracy", "recall_anger", "recall_disgust",
                                                            "recall_sadness")),
             f("diffusionfer_val/valence_ccc"), f("diffusionfer_val/arousal_ccc")]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--names", help="comma-separated row names (default: the folder names)")
    args = p.parse_args()
    names = args.names.split(",") if args.names else [r.name for r in args.runs]
    if len(names) != len(args.runs):
        p.error("give one name per run")
    print("| run | epochs | FER+ val acc | anger | disgust | fear | sadness | left out | its acc | anger | disgust | "
          "sadness | DiffusionFER CCC V | CCC A |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, run in zip(names, args.runs):
        print(row(name, run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
