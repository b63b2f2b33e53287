"""Temperature scaling of a model's expression probabilities on FER+ validation faces, through the runtime's own
crop path, with the reliability figures (accuracy, NLL, ECE over 15 bins) before and after.

Honest by construction: the temperature is fitted on one half of the faces (even positions) and the figures are
reported on the other half; the temperature written (``--write``) is then fitted on all of them. Only the
confidence changes: dividing log-probabilities by one temperature never changes the top class.

    python scripts/calibrate_expression.py --model assets/default_model.onnx [--report docs/calibration.md]
        [--write [--checkpoint assets/default_model.pt]]

``--write`` puts the temperature fitted on all faces into the card of the ONNX model (and of its sequence model
beside it, whose card must match), and with ``--checkpoint`` into that torch checkpoint's card too; then update
the checksums of bundled files (realtime_affect/assets.py, assets/DEFAULT_MODEL.md).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def scaled(probs: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(probs, 1e-7, 1.0)) / temperature
    logits -= logits.max(1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0))))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    conf, pred = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(float((pred[m] == labels[m]).mean()) - float(conf[m].mean()))
    return total


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    grid = np.exp(np.linspace(np.log(0.25), np.log(4.0), 241))
    return float(grid[int(np.argmin([nll(scaled(probs, t), labels) for t in grid]))])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=ROOT / "assets" / "default_model.onnx")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ferplus_valid.npz")
    p.add_argument("--cache", type=Path, default=ROOT / "runs" / "face_cache")
    p.add_argument("--report", type=Path)
    p.add_argument("--write", action="store_true", help="write the temperature into the model's card")
    p.add_argument("--checkpoint", type=Path, help="with --write: the torch checkpoint of the same model")
    args = p.parse_args()
    from trainers.face_cache import cached_fit
    from trainers.face_eval import EvalSet, run_model_file
    from trainers.facesets import read_ferplus

    faces = read_ferplus(args.data, "ferplus_valid")
    fit = cached_fit(faces.name, faces.images, args.cache)
    probs = run_model_file(args.model, EvalSet(faces.name, faces, fit))["expression"].astype(np.float64)
    keep = faces.expression >= 0
    probs, labels = probs[keep], faces.expression[keep].astype(int)
    fit_half, test_half = np.arange(len(labels)) % 2 == 0, np.arange(len(labels)) % 2 == 1
    t_half = fit_temperature(probs[fit_half], labels[fit_half])
    t_all = fit_temperature(probs, labels)
    before, after = probs[test_half], scaled(probs[test_half], t_half)
    y = labels[test_half]
    lines = [f"# Expression confidence calibration: {args.model.name}", "",
             f"FER+ validation faces with a majority expression: {len(labels)} (fit on the {int(fit_half.sum())} at "
             f"even positions, figures on the {int(test_half.sum())} others). Made by `python "
             f"scripts/calibrate_expression.py --model {args.model.name}`.", "",
             "| | temperature | accuracy | NLL | ECE (15 bins) | mean confidence |", "|---|---|---|---|---|---|",
             f"| before | 1.00 | {(before.argmax(1) == y).mean():.3f} | {nll(before, y):.3f} | {ece(before, y):.3f} | "
             f"{before.max(1).mean():.3f} |",
             f"| after | {t_half:.2f} | {(after.argmax(1) == y).mean():.3f} | {nll(after, y):.3f} | "
             f"{ece(after, y):.3f} | "
             f"{after.max(1).mean():.3f} |", "",
             f"Temperature fitted on all {len(labels)} faces (the one to ship): **{t_all:.2f}**."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    if args.write:
        write_temperature(args.model, args.checkpoint, round(t_all, 3))
    return 0


def write_temperature(onnx_path: Path, checkpoint: Path | None, temperature: float) -> None:
    """The temperature into the card of the ONNX student, its sequence model and (given) the checkpoint."""
    from engines.card_files import update_card_fields

    for path in update_card_fields(onnx_path, checkpoint, {"expression_temperature": temperature}):
        print(f"{path}: expression_temperature {temperature}")


if __name__ == "__main__":
    sys.exit(main())
