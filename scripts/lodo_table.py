"""The leave-one-dataset-out table of docs/round3.md from training runs' ``history.json`` (the last epoch of each):
FER+ validation accuracy and recall of the rare classes, the left-out set's accuracy and recall of anger and
disgust (the figures issue 29 moves), and DiffusionFER's held-out valence/arousal CCC.

    python scripts/lodo_table.py RUN_DIR [RUN_DIR ...] [--names "base,class power 1.0"] [--spread] [--mean]
        [--against CONTROL_DIR [CONTROL_DIR ...]]

One change is judged on the mean of several seeds (docs/round3.md): ``--mean`` adds the runs' mean, ``--against``
the mean of a control's seeds and the change's mean minus it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


RARE = ("anger", "disgust", "fear", "sadness")


def figures(run: Path) -> tuple[int, str, list[float | None]]:
    """The last epoch of a run: its number, the left-out set's name and the table's figures in column order."""
    history = json.loads((run / "history.json").read_text())
    last = history[-1]
    left = next((k.split("/")[0] for k in last if k.endswith("_left_out/accuracy")), None)
    keys = ["ferplus_valid/accuracy", *(f"ferplus_valid/recall_{c}" for c in RARE),
            *(f"{left}/{k}" if left else "" for k in ("accuracy", "recall_anger", "recall_disgust",
                                                       "recall_sadness")),
            "diffusionfer_val/valence_ccc", "diffusionfer_val/arousal_ccc"]
    return int(last["epoch"]), left.replace("_left_out", "") if left else "–", [last.get(k) for k in keys]


def cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def row(name: str, run: Path) -> str:
    epoch, left, values = figures(run)
    cells = [name, str(epoch), *map(cell, values[:5]), left, *map(cell, values[5:])]
    return "| " + " | ".join(cells) + " |"


def _columns(runs: list[Path]) -> list[tuple[float | None, ...]]:
    return list(zip(*(figures(run)[2] for run in runs)))


def aggregate_row(label: str, values: list[float | None], signed: bool = False) -> str:
    """A row of figures computed over runs (no epoch, no left-out name); ``signed`` for differences."""
    fmt = (lambda v: "–" if v is None else f"{v:+.3f}") if signed else cell
    cells = [label, "", *map(fmt, values[:5]), "", *map(fmt, values[5:])]
    return "| " + " | ".join(cells) + " |"


def spread_row(runs: list[Path]) -> str:
    """Max minus min of each figure over the runs (e.g. one recipe under several seeds)."""
    ranges = [None if None in col else max(col) - min(col) for col in _columns(runs)]  # type: ignore[type-var]
    return aggregate_row("spread (max - min)", ranges)


def means(runs: list[Path]) -> list[float | None]:
    """Each figure's mean over the runs (None where a run lacks it)."""
    return [None if None in col else sum(col) / len(col) for col in _columns(runs)]  # type: ignore[arg-type]


def difference(change: list[float | None], control: list[float | None]) -> list[float | None]:
    """Each figure of ``change`` minus the same figure of ``control`` (None where either lacks it)."""
    return [None if a is None or b is None else a - b for a, b in zip(change, control)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--names", help="comma-separated row names (default: the folder names)")
    p.add_argument("--spread", action="store_true",
                   help="add a row with each figure's spread (max - min) over the runs, e.g. seeds of one recipe")
    p.add_argument("--mean", action="store_true", help="add a row with each figure's mean over the runs")
    p.add_argument("--against", nargs="+", type=Path, metavar="CONTROL",
                   help="a control's runs (e.g. its seeds): add their mean and the runs' mean minus it")
    args = p.parse_args()
    names = args.names.split(",") if args.names else [r.name for r in args.runs]
    if len(names) != len(args.runs):
        p.error("give one name per run")
    if args.mean or args.against or args.spread:
        left_out = {figures(run)[1] for run in [*args.runs, *(args.against or [])]}
        if len(left_out) > 1:
            p.error(f"the runs leave out different sets ({', '.join(sorted(left_out))}): "
                    "spreads and means compare runs that leave out the same set")
    print("| run | epochs | FER+ val acc | anger | disgust | fear | sadness | left out | its acc | anger | disgust | "
          "sadness | DiffusionFER CCC V | CCC A |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, run in zip(names, args.runs):
        print(row(name, run))
    if args.spread:
        print(spread_row(args.runs))
    if args.mean or args.against:
        mean = means(args.runs)
        print(aggregate_row(f"mean of {len(args.runs)}", mean))
    if args.against:
        control = means(args.against)
        print(aggregate_row(f"control: mean of {len(args.against)}", control))
        print(aggregate_row("mean minus control", difference(mean, control), signed=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
