"""Ablation of the seed methods on real labelled faces: each on and off with the same budget.

    python benchmarks/ablate_seed_methods.py --data ../shared/data [--train-faces 10000] [--epochs 3]
        [--out build/ablation] [--table docs/ablation.md]

Every variant trains the default recipe (``affect-train faces``) from scratch with the same seed, the same
random subset of training faces, the same epochs and learning-rate schedule, and is scored on data it
was not trained on: FER+ validation (accuracy against the vote majority, macro-F1), the held-out CK+
subjects (accuracy, AU macro-F1) and the concordance (CCC) of its valence/arousal with the targets
derived from FER+ validation's votes. Also: parameters, training seconds per epoch, and ONNX Runtime
milliseconds per face at batch 1 (one thread). Writes the table (markdown) and a JSON beside it.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "baseline (grey CNN)": {},
    "+ feature pyramid (seed 003, --arch fpn)": {"arch": "fpn"},
    "+ masked co-training (seed 001, --co-training)": {"co_training": True},
    "+ VA from scores (seed 001 EMMA, --va-from-scores)": {"va_from_scores": True},
    "+ semi-supervised SS-MFAR (seeds 000/002, --semi-supervised)": {"semi_supervised": True},
}


def onnx_ms_per_face(checkpoint: Path, repeats: int = 1000) -> float:
    """Median ms of one face at batch 1 in ONNX Runtime (one thread) for the checkpoint's student."""
    import numpy as np
    import onnxruntime as ort

    from engines.export import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(checkpoint, Path(tmp) / "m.onnx").student_path
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        size = sess.get_inputs()[0].shape[-1]
        x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
        for _ in range(30):
            sess.run(None, {name: x})
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            sess.run(None, {name: x})
            times.append((time.perf_counter() - t0) * 1000)
        return float(np.median(times))


def main() -> None:
    import torch

    from trainers.faces_recipe import FacesConfig, build_splits, train_faces

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=ROOT / "build" / "facecache")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "ablation")
    ap.add_argument("--table", type=Path, default=ROOT / "docs" / "ablation.md")
    ap.add_argument("--train-faces", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="faces per set (smoke runs only)")
    ap.add_argument("--augment", default="light", choices=("strong", "light"),
                    help="light (default) learns faster within a short budget")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--only", default="", help="comma-separated variant numbers (1-based) to run")
    args = ap.parse_args()
    base = FacesConfig(data=args.data, out=args.out, cache=args.cache, epochs=args.epochs, lr=args.lr,
                       train_faces=args.train_faces, limit=args.limit, augment=args.augment)
    print(f"building the splits from {args.data} ...", flush=True)
    splits = build_splits(base, on_progress=lambda m: print(m, flush=True))
    chosen = [int(i) for i in args.only.split(",") if i] or list(range(1, len(VARIANTS) + 1))
    rows = []
    for number, (name, change) in enumerate(VARIANTS.items(), 1):
        if number not in chosen:
            continue
        cfg = replace(base, out=args.out / f"variant{number}", **change)
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        path = train_faces(cfg, splits=splits,
                           on_epoch=lambda r: print(f"  epoch {r['epoch']} ({r['seconds']:.0f} s) " + "  ".join(
                               f"{k} {v:.3f}" for k, v in r.items() if "/" in k), flush=True))
        seconds = time.perf_counter() - t0
        last = json.loads((cfg.out / "history.json").read_text())[-1]
        payload = torch.load(path, map_location="cpu", weights_only=False)
        params = sum(v.numel() for v in payload["student"]["state_dict"].values() if v.dtype.is_floating_point)
        rows.append({"variant": name, "config": change, "params": params, "seconds_per_epoch": seconds / args.epochs,
                     "checkpoint": str(path), **{k: v for k, v in last.items() if "/" in k}})
        print(json.dumps(rows[-1]), flush=True)
    # serving cost last, all variants in turn (three rounds, median), so each sees the same machine
    times: dict[int, list[float]] = {i: [] for i in range(len(rows))}
    for _ in range(3):
        for i, r in enumerate(rows):
            times[i].append(onnx_ms_per_face(Path(r["checkpoint"]), repeats=400))
    for i, r in enumerate(rows):
        r["ms_per_face"] = float(sorted(times[i])[1])
    write_table(rows, args)


def write_table(rows: list[dict], args) -> None:
    base = rows[0] if rows and not rows[0]["config"] else None
    lines = [
        "# Seed methods on real faces: ablation",
        "",
        f"Made by `python benchmarks/ablate_seed_methods.py --train-faces {args.train_faces} --epochs {args.epochs} "
        f"--augment {args.augment} --lr {args.lr:g}` in one run on this 2-core CPU. Each variant trains the default "
        "recipe from scratch with the same seed, "
        f"the same random {args.train_faces:,} training faces, {args.epochs} epochs of the same one-cycle schedule "
        f"(peak lr {args.lr:g}) and {args.augment} augmentation; only the named method changes. Scored on data "
        "none of them trained on. "
        "VA CCC: concordance of valence/arousal with the targets derived from FER+ validation's votes (the only "
        "VA targets this data has).",
        "",
        "| variant | FER+ val accuracy | FER+ val macro-F1 | CK+ held-out accuracy | CK+ AU macro-F1 | VA CCC (FER+ val) "
        "| parameters | s per epoch | ms per face (ORT, b1, 1 thread) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        def f(key: str) -> str:
            v = r.get(key)
            if v is None:
                return ""
            text = f"{v:.3f}"
            if base is not None and r is not base and base.get(key) is not None:
                text += f" ({v - base[key]:+.3f})"
            return text
        lines.append(f"| {r['variant']} | {f('ferplus_valid/accuracy')} | {f('ferplus_valid/macro_f1')} | "
                     f"{f('ckplus_val_subjects/accuracy')} | {f('ckplus_val_subjects/au_macro_f1')} | "
                     f"{f('ferplus_valid/va_ccc')} | {r['params'] / 1e6:.2f} M | {r['seconds_per_epoch']:.0f} | "
                     f"{r['ms_per_face']:.2f} |")
    args.table.parent.mkdir(parents=True, exist_ok=True)
    args.table.write_text("\n".join(lines) + "\n")
    args.table.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(f"wrote {args.table}")


if __name__ == "__main__":
    main()
