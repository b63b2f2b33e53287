"""The model's reading of a typical neutral face: the reference a person's own neutral face is compared with
(``realtime_affect/temporal/baseline.py``).

FER+ *training* faces whose annotators agree on neutral (at least 8 of 10 votes) and that the landmarker fits
are run through the model file exactly as the runtime runs a face (crop, alignment, backend); the median of each
value (expression log-probability, AU logit, valence, arousal) is the reference. ``--write`` puts it into the
card (``neutral_reading``) of the ONNX model, its sequence model and the checkpoint; then update the checksums
(realtime_affect/assets.py, assets/DEFAULT_MODEL.md).

    python scripts/neutral_reference.py --model assets/default_model.onnx [--write --checkpoint assets/default_model.pt]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=ROOT / "assets" / "default_model.onnx")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ferplus_train.npz")
    p.add_argument("--cache", type=Path, default=ROOT / "build" / "facecache")
    p.add_argument("--faces", type=int, default=2000, help="at most this many neutral faces (random, seed 0)")
    p.add_argument("--write", action="store_true", help="write the reading into the model's card")
    p.add_argument("--checkpoint", type=Path, help="with --write: the torch checkpoint of the same model")
    args = p.parse_args()
    from realtime_affect.temporal.baseline import NeutralReading
    from realtime_affect.types import Prediction
    from trainers.face_cache import cached_fit
    from trainers.face_eval import EvalSet, run_model_file
    from trainers.facesets import read_ferplus

    faces = read_ferplus(args.data, "ferplus_train")
    fit = cached_fit(faces.name, faces.images, args.cache)
    neutral = np.flatnonzero((faces.soft[:, 0] >= 0.8) & fit.fitted)
    pick = np.sort(np.random.default_rng(0).permutation(neutral)[:args.faces])
    from trainers.faces_recipe import _take_fit

    out = run_model_file(args.model, EvalSet(faces.name, faces.subset(pick), _take_fit(fit, pick)))
    reading = NeutralReading.from_predictions([
        Prediction(expression=e, action_units=a, valence_arousal=v)
        for e, a, v in zip(out["expression"], out["action_units"], out["valence_arousal"])])
    data = reading.to_dict()
    print(f"{len(pick)} neutral FER+ training faces (of {len(neutral)} with >= 8 of 10 neutral votes):")
    print(json.dumps(data, indent=1))
    if args.write:
        from engines.card_files import update_card_fields

        for path in update_card_fields(args.model, args.checkpoint, {"neutral_reading": data}):
            print(f"{path}: neutral_reading written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
