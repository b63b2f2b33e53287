"""Does a model read posed faces differently because they are sharper than its web training faces?

FER+ faces are 48x48 pixels, CK+ faces are cut from 640x490 studio frames: the aligned crops differ in detail.
This reads the aligned crops of CK+ (all of it: for a CK+-left-out model, never trained on) and FER+ validation
at the model's input size, and again after shrinking each crop to 48, 40 and 32 pixels and enlarging it back,
and prints accuracy and per-class recall for each. If CK+'s anger were read as neutral because of the extra
detail, the shrunk crops would read it better.

    python scripts/resolution_probe.py build/r3/lodo/ck_faceapi/student.pt [--data ../shared/data] [--sides 48,40,32]
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
    p.add_argument("--sides", default="48,40,32", help="sizes each crop is shrunk to before being enlarged back")
    args = p.parse_args()

    import cv2
    import numpy as np
    import torch

    from realtime_affect.labels import EXPRESSIONS
    from realtime_affect.models.checkpoint import load_checkpoint
    from trainers.faces_recipe import FacesConfig, load_sets, predict_prepared, prepare

    torch.set_num_threads(1)
    loaded = load_checkpoint(args.model)
    size = loaded.card.input_size
    student = loaded.student.eval()
    sets = load_sets(FacesConfig(data=args.data, out=Path("."), cache=args.cache, workers=1))
    sides = [0] + [int(s) for s in args.sides.split(",") if s]
    print(f"| set | shrunk to | accuracy | {' | '.join(EXPRESSIONS)} |")
    print("|---|---|---|" + "---|" * len(EXPRESSIONS))
    for name in ("ckplus", "ferplus_valid"):
        if name not in sets:
            continue
        faces, fit = sets[name]
        prepared = prepare(faces, fit, size, None)
        original = prepared.crops.copy()
        truth = faces.expression
        known = truth >= 0
        for side in sides:
            prepared.crops = original if not side else np.stack([
                cv2.resize(cv2.resize(c, (side, side), interpolation=cv2.INTER_AREA), (size, size),
                           interpolation=cv2.INTER_LINEAR) for c in original])
            top = predict_prepared(student, prepared)["expression"].argmax(1)
            recall = []
            for c in range(len(EXPRESSIONS)):
                of_c = known & (truth == c)
                recall.append(f"{(top[of_c] == c).mean():.2f}" if of_c.any() else "–")
            acc = (top[known] == truth[known]).mean()
            print(f"| {name} | {side or 'as is'} | {acc:.3f} | {' | '.join(recall)} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
