"""Calibration faces for the INT8 default student: aligned crops drawn from the training faces.

    python scripts/calibration_crops.py [--data ../shared/data] [--faces 512] --out build/calib_crops.npz

Writes ``crops`` (N x S x S x 3 uint8 BGR, grey in all three channels like the training faces, aligned by the
runtime's own code through the landmark cache) for ``affect-engine quantize --calib``. Only training faces
are drawn: the validation sets that score the shipped model stay unseen.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "facecache")
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--faces", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from trainers.faces_recipe import FacesConfig, build_splits, training_rows

    cfg = FacesConfig(data=args.data, out=args.out.parent, cache=args.cache, input_size=args.input_size,
                      seed=args.seed)
    splits = build_splits(cfg)
    rows = training_rows(splits.train, cfg.ck_repeat, cfg.csv_cap_per_class, cfg.seed)
    fitted = np.flatnonzero(rows.fitted)
    pick = np.random.default_rng(args.seed).choice(fitted, min(args.faces, len(fitted)), replace=False)
    grey = rows.crops[np.sort(pick)]
    np.savez_compressed(args.out, crops=np.repeat(grey[..., None], 3, axis=-1))
    print(f"wrote {args.out}: {len(pick)} aligned training faces")


if __name__ == "__main__":
    main()
