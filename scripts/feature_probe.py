"""Does a model misread a left-out set because its features miss the expression, or because its head draws the
boundaries where the training faces need them?

For a model trained without CK+ (``affect-train faces --leave-out ckplus``), this compares on all of CK+:

* the model's own expression head;
* a linear probe (softmax regression) on the model's features, fitted on half of CK+'s people and read on the
  other half, both ways (2 folds by subject): what the features can tell apart with boundaries drawn on posed
  faces of other people;
* the model's head with neutral left out of the choice (CK+'s faces are all at an expression's peak, and a
  probe fitted on them never says neutral either): what the head reads second to neutral;
* the model's head on CK+'s features moved to the training faces' feature statistics (per-dimension mean and
  standard deviation, from FER+ training faces), and moved by the mean only: whether a shift of the whole set
  (camera, lighting, studio) explains the misreadings.

    python scripts/feature_probe.py build/r3/lodo/ck_faceapi/student.pt [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def softmax_regression(x, y, classes: int, steps: int = 400, lr: float = 0.5, l2: float = 1e-2):
    """(W, b) of an L2-regularised softmax regression, full-batch gradient descent (numpy)."""
    import numpy as np

    w, b = np.zeros((x.shape[1], classes)), np.zeros(classes)
    onehot = np.eye(classes)[y]
    for _ in range(steps):
        z = x @ w + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) / len(x)
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum(0)
    return w, b


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="a student .pt checkpoint")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--cache", type=Path, default=ROOT / "build" / "facecache")
    p.add_argument("--reference-faces", type=int, default=6000, help="FER+ training faces for the feature statistics")
    args = p.parse_args()

    import numpy as np
    import torch

    from realtime_affect.labels import EXPRESSIONS
    from realtime_affect.models.checkpoint import load_checkpoint
    from trainers.faces_recipe import FacesConfig, _take_fit, load_sets, predict_prepared, prepare

    torch.set_num_threads(1)
    loaded = load_checkpoint(args.model)
    student, size = loaded.student.eval(), loaded.card.input_size
    sets = load_sets(FacesConfig(data=args.data, out=Path("."), cache=args.cache, workers=1))
    if "ckplus" not in sets or "ferplus_train" not in sets:
        p.error(f"{args.data} needs ckplus_train.npz and ferplus_train.npz")
    faces, fit = sets["ckplus"]
    out = predict_prepared(student, prepare(faces, fit, size, None))
    feats, truth = out["features"], faces.expression

    standard = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    probe = np.zeros(len(truth), int)
    people = np.array(sorted(set(faces.groups.tolist())))
    np.random.default_rng(0).shuffle(people)
    for part in np.array_split(people, 2):
        test = np.isin(faces.groups, part)
        w, b = softmax_regression(standard[~test], truth[~test], len(EXPRESSIONS))
        probe[test] = (standard[test] @ w + b).argmax(1)

    ref_faces, ref_fit = sets["ferplus_train"]
    pick = np.random.default_rng(0).choice(len(ref_faces), min(args.reference_faces, len(ref_faces)), replace=False)
    ref = predict_prepared(student, prepare(ref_faces.subset(pick), _take_fit(ref_fit, pick), size, None))["features"]
    moved = (feats - feats.mean(0)) / (feats.std(0) + 1e-6) * ref.std(0) + ref.mean(0)
    shifted = feats - feats.mean(0) + ref.mean(0)
    with torch.no_grad():
        def head(f):
            return student.expression(torch.from_numpy(f.astype(np.float32))).argmax(1).numpy()

        no_neutral = out["expression"].copy()
        no_neutral[:, EXPRESSIONS.index("neutral")] = -1.0
        rows = [("the model's head", out["expression"].argmax(1)),
                ("the model's head, neutral left out of the choice", no_neutral.argmax(1)),
                ("linear probe on the features, 2 folds by person", probe),
                ("the head, features moved to FER+ training statistics", head(moved)),
                ("the head, features moved by the mean only", head(shifted))]
    present = [c for c in range(len(EXPRESSIONS)) if (truth == c).any()]
    print(f"| CK+ ({len(truth)} faces, {len(people)} people) | accuracy | "
          + " | ".join(EXPRESSIONS[c] for c in present) + " |")
    print("|---|---|" + "---|" * len(present))
    for name, top in rows:
        recall = " | ".join(f"{(top[truth == c] == c).mean():.2f}" for c in present)
        print(f"| {name} | {(top == truth).mean():.3f} | {recall} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
