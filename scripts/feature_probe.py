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

With ``--refit``, the head is also refitted on the frozen features of the FER+ training faces (from the model's
own head, 30 epochs of Adam, class weights (n_max / n) ** 0.5), with targets that move where neutral ends: the
votes as they are; 0.6 votes + 0.4 face-api's readings; the neutral share dropped from faces with >= 20% of the
votes on anger, disgust or sadness; the neutral share halved on faces whose neutral majority is under 70%.
Each is read on FER+ validation and CK+: can a different boundary on the same features buy CK+ without FER+?

    python scripts/feature_probe.py build/r3/lodo/ck_faceapi/student.pt [--data ../shared/data] [--refit]
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
    p.add_argument("--refit", action="store_true", help="also refit the head on FER+ training features (slower)")
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
    if args.refit:
        refit_heads(student, sets, size, feats, truth, args.cache)
    return 0


def refit_heads(student, sets, size, ck_feats, ck_truth, cache) -> None:
    """Print FER+ validation and CK+ figures of the head refitted on frozen FER+ training features."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from realtime_affect.labels import EXPRESSIONS
    from trainers.faces_recipe import predict_prepared, prepare

    train_faces, train_fit = sets["ferplus_train"]
    keep = (train_faces.expression >= 0) & train_fit.fitted
    x = predict_prepared(student, prepare(train_faces, train_fit, size, None))["features"][keep]
    labels, votes = train_faces.expression[keep], train_faces.soft[keep]
    open_teacher = Path(cache) / "ferplus_train.face-api.expr.npy"
    valid_faces, valid_fit = sets["ferplus_valid"]
    valid_x = predict_prepared(student, prepare(valid_faces, valid_fit, size, None))["features"]
    counts = np.bincount(labels, minlength=len(EXPRESSIONS)).astype(float)
    weights = ((counts.max() / np.maximum(counts, 1)) ** 0.5)[labels]
    neutral = EXPRESSIONS.index("neutral")
    unpleasant = [EXPRESSIONS.index(c) for c in ("anger", "disgust", "sadness")]

    def fit(targets: np.ndarray) -> torch.nn.Linear:
        torch.manual_seed(0)
        head = torch.nn.Linear(x.shape[1], len(EXPRESSIONS))
        head.load_state_dict(student.expression.state_dict())
        opt = torch.optim.Adam(head.parameters(), 1e-3)
        xt, tt = torch.from_numpy(x), torch.from_numpy(targets.astype(np.float32))
        wt = torch.from_numpy(weights.astype(np.float32))
        for _ in range(30):
            order = torch.randperm(len(xt))
            for i in range(0, len(xt), 512):
                j = order[i:i + 512]
                loss = (-(tt[j] * F.log_softmax(head(xt[j]), -1)).sum(-1) * wt[j]).sum() / wt[j].sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
        return head

    def renorm(t: np.ndarray) -> np.ndarray:
        return t / t.sum(1, keepdims=True)

    variants = [("the model's head", None), ("refitted on the votes", votes)]
    if open_teacher.is_file():
        variants.append(("refitted on 0.6 votes + 0.4 face-api", 0.6 * votes + 0.4 * np.nan_to_num(
            np.load(open_teacher)[keep])))
    dropped = votes.copy()
    dropped[votes[:, unpleasant].sum(1) >= 0.2, neutral] = 0.0
    variants.append(("refitted, neutral share dropped where >= 20% votes unpleasant", renorm(dropped)))
    halved = votes.copy()
    halved[(labels == neutral) & (votes[:, neutral] < 0.7), neutral] *= 0.5
    variants.append(("refitted, neutral share halved where its majority < 70%", renorm(halved)))
    print()
    print("| head | FER+ validation | anger | disgust | sadness | CK+ | anger | disgust | sadness |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, targets in variants:
        head = student.expression if targets is None else fit(targets)
        cells = []
        for feats, truth in ((valid_x, valid_faces.expression), (ck_feats, ck_truth)):
            with torch.no_grad():
                top = head(torch.from_numpy(feats)).argmax(1).numpy()
            known = truth >= 0
            cells.append(f"{(top[known] == truth[known]).mean():.3f}")
            cells += [f"{(top[truth == c] == c).mean():.2f}" for c in unpleasant]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
