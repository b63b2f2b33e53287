"""Is a rare AU missed because the model cannot see it, or because its probabilities sit below 0.5?

F1 at a 0.5 threshold (the report's AU figure) cannot tell the two apart. For each AU this prints, on the CK+
training subjects and on the held-out subjects (the recipe's split, seed 0): the coded positives and how many
people they come from, the AUC of the model's probability (ranking: 1 perfect, 0.5 chance), the median
probability on the positives and the 95th percentile on the negatives, beside the F1 at 0.5. A high held-out AUC with a low positive
median means the AU is seen but under-called, which a threshold chosen on held-out people would hide.

    python scripts/au_ranking.py assets/default_model.pt [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="a student .pt checkpoint")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--cache", type=Path, default=ROOT / "build" / "facecache")
    args = p.parse_args()

    import numpy as np
    import torch

    from realtime_affect.labels import ACTION_UNITS
    from realtime_affect.models.checkpoint import load_checkpoint
    from trainers.au_teacher import _auc
    from trainers.faces_recipe import FacesConfig, load_sets, predict_prepared, prepare
    from trainers.facesets import split_groups

    torch.set_num_threads(1)
    loaded = load_checkpoint(args.model)
    cfg = FacesConfig(data=args.data, out=Path("."), cache=args.cache, workers=1)
    sets = load_sets(cfg)
    if "ckplus" not in sets:
        p.error(f"{args.data} has no ckplus_train.npz")
    faces, fit = sets["ckplus"]
    train, held = split_groups(faces.groups, cfg.ck_val_fraction, cfg.seed)
    probs = predict_prepared(loaded.student.eval(), prepare(faces, fit, loaded.card.input_size, None))["action_units"]
    print("| AU | part | positives (people) | F1 at 0.5 | AUC | median p, positives | 95th pct p, negatives |")
    print("|---|---|---|---|---|---|---|")
    for a, name in enumerate(ACTION_UNITS):
        for part, index in (("training subjects", train), ("held-out subjects", held)):
            codes, p_au = faces.aus[index, a], probs[index, a]
            pos, neg = codes == 1, codes == 0
            if not pos.any():
                continue
            people = len(set(faces.groups[index][pos].tolist()))
            said = p_au >= 0.5
            hits = int((said & pos).sum())
            f1 = 2 * hits / max(int((said & (pos | neg)).sum()) + int(pos.sum()), 1)
            print(f"| {name} | {part} | {int(pos.sum())} ({people}) | {f1:.2f} | {_auc(codes, p_au):.3f} | "
                  f"{np.median(p_au[pos]):.3f} | {np.quantile(p_au[neg], 0.95):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
