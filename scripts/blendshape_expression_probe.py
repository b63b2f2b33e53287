"""Probe (issue 29): do MediaPipe's 52 blendshapes carry anger and disgust across data sets better than pixels?

    python scripts/blendshape_expression_probe.py [--data ../shared/data] [--cache build/facecache]

Trains a small MLP (52 -> 128 -> 8, soft labels, class weights (1/count) ** 0.5, 30 epochs) on the blendshapes
the landmarker gives for FER+ training, muxspace and DiffusionFER faces (landmarks cached by the recipe), and
scores FER+ validation and all of CK+ (never trained on: the leave-one-dataset-out figure). Prints accuracy,
recall per class and the confusion matrix (rows: label, columns: prediction, ABAW order).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    import torch

    from realtime_affect.labels import EXPRESSIONS
    from trainers.faces_recipe import FacesConfig, load_sets

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "facecache")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    sets = load_sets(FacesConfig(data=args.data, out=Path("."), cache=args.cache, workers=1))

    def xy(name: str):
        faces, fit = sets[name]
        ok = fit.fitted & (faces.expression >= 0)
        return fit.blendshapes[ok].astype(np.float32), faces.expression[ok], faces.soft[ok]

    train = [xy(n) for n in ("ferplus_train", "muxspace", "diffusionfer") if n in sets]
    x = np.concatenate([t[0] for t in train])
    y = np.concatenate([t[2] for t in train])
    mu, sd = x.mean(0), x.std(0) + 1e-4
    counts = y.sum(0)
    weight = torch.tensor((counts.sum() / (len(EXPRESSIONS) * np.maximum(counts, 1))) ** 0.5, dtype=torch.float32)
    xt, yt = torch.tensor((x - mu) / sd), torch.tensor(y)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 128), torch.nn.ReLU(), torch.nn.Linear(128, len(EXPRESSIONS)))
    opt = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=1e-3)
    for _ in range(30):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 512):
            b = perm[i:i + 512]
            loss = -(yt[b] * torch.log_softmax(net(xt[b]), -1) * weight).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    for name in ("ferplus_valid", "ckplus"):
        if name not in sets:
            continue
        xv, yv, _ = xy(name)
        with torch.no_grad():
            pred = net(torch.tensor((xv - mu) / sd)).argmax(-1).numpy()
        recall = {EXPRESSIONS[k]: round(float((pred[yv == k] == k).mean()), 2) for k in range(len(EXPRESSIONS))
                  if (yv == k).any()}
        print(f"{name}: accuracy {float((pred == yv).mean()):.3f}, recall {recall}")
        confusion = np.zeros((len(EXPRESSIONS), len(EXPRESSIONS)), int)
        np.add.at(confusion, (yv, pred), 1)
        print(confusion)


if __name__ == "__main__":
    main()
