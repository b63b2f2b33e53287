"""``affect-engine``: export models to ONNX, build TensorRT engines, benchmark backends.

Exit codes: 0 done; 1 unexpected internal error; 2 bad input or a failed check (one-line message).
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Sequence

log = logging.getLogger("engines")


def build_parser() -> argparse.ArgumentParser:
    from realtime_affect.console import add_version_flag

    p = argparse.ArgumentParser(prog="affect-engine", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="export a .pt checkpoint to ONNX (checked against torch)")
    ex.add_argument("checkpoint", type=Path)
    ex.add_argument("--format", default="onnx", choices=("onnx",))
    ex.add_argument("--out", type=Path, help="output .onnx (default: beside the checkpoint)")
    ex.add_argument("--check-media", type=Path, help="video or image with faces to compare outputs on")
    ex.add_argument("--atol", type=float, default=1e-4)
    qu = sub.add_parser("quantize", help="INT8 student for ONNX Runtime on CPUs (static, calibrated on real "
                        "aligned faces; checked against the float model)")
    qu.add_argument("onnx", type=Path, help="the float student .onnx (its .sequence.onnx is carried along)")
    qu.add_argument("--calib", type=Path, action="append", required=True,
                    help="calibration faces: a video, an image, or an .npz with aligned 'crops' (repeat)")
    qu.add_argument("--calib-faces", type=int, default=512, help="at most this many calibration faces")
    qu.add_argument("--out", type=Path, help="output .onnx (default: X.int8.onnx beside the input)")
    qu.add_argument("--check-media", type=Path, help="video or image with faces to compare outputs on")
    bu = sub.add_parser("build", help="build a TensorRT engine from an ONNX model (NVIDIA GPU + TensorRT)")
    bu.add_argument("onnx", type=Path)
    bu.add_argument("--fp16", action="store_true")
    bu.add_argument("--int8", action="store_true")
    bu.add_argument("--calib", type=Path, help="face video, image or folder for INT8 calibration")
    bu.add_argument("--max-batch", type=int, default=16, help="largest batch of faces (or tracks) in the profile")
    bu.add_argument("--out", type=Path, help="engine file (default: the engine cache for this GPU)")
    be = sub.add_parser("bench", help="latency per backend: student per face, GRU per track")
    be.add_argument("model", type=Path, help=".pt checkpoint (exported to ONNX on the fly for comparison)")
    be.add_argument("--backends", default="torch,onnxruntime",
                    help="any of torch, onnxruntime, tensorrt, and on CUDA torch-fp16, torch-graphs, torch-fp16-graphs")
    be.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    be.add_argument("--repeat", type=int, default=50)
    be.add_argument("--batches", default="1,4,16")
    add_version_flag(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    try:
        from realtime_affect.system.extras import require_extra

        if args.command != "build":  # build says itself when TensorRT is missing
            require_extra("train", f"affect-engine {args.command}")
        if args.command == "export":
            return _export(args)
        if args.command == "build":
            return _build(args)
        if args.command == "quantize":
            return _quantize(args)
        return _bench(args)
    except Exception as exc:
        return _report(exc, args.verbose)


def _report(exc: BaseException, verbose: bool) -> int:
    """One line and the exit code every command gives (``realtime_affect.console``)."""
    from realtime_affect.console import report_error

    return report_error(exc, verbose, "affect-engine")


def _quantize(args: argparse.Namespace) -> int:
    from engines.export import ExportError
    from engines.quantize import calibration_crops, quantize_student
    from realtime_affect.models.backends.onnxruntime import OnnxRuntimeBackend

    if args.calib_faces < 1:
        raise ExportError("--calib-faces must be at least 1")
    size = OnnxRuntimeBackend(args.onnx).card.input_size
    calibration = calibration_crops(args.calib, size, args.calib_faces)
    out = args.out or args.onnx.with_name(args.onnx.stem + ".int8.onnx")
    report = quantize_student(args.onnx, out, calibration, args.check_media)
    print(f"wrote {report.path}" + (f" and {report.sequence_path}" if report.sequence_path else ""))
    print(f"calibrated on {report.calibration_faces} faces; on {report.check_faces} other real face crops the top "
          f"expression agrees with the float model on {100 * report.top_expression_agreement:.1f}%, largest "
          f"expression probability change {report.max_abs_diff['expression']:.3f}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from engines.export import export_onnx

    out = args.out or args.checkpoint.with_suffix(".onnx")
    report = export_onnx(args.checkpoint, out, args.check_media, args.atol)
    worst = max(report.max_abs_diff.values())
    print(f"wrote {report.student_path}" + (f" and {report.sequence_path}" if report.sequence_path else ""))
    print(f"max |onnx - torch| on {report.crops} real face crops: {worst:.2e}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from engines.tensorrt_build import build_engine
    from realtime_affect.models.backends.base import BackendError
    from realtime_affect.models.backends.onnxruntime import sequence_path_for
    from realtime_affect.models.tensorrt_engines import EngineError, cache_path, default_cache_dir, device_key

    try:
        key = device_key()  # fails early, with what is missing, on machines without TensorRT or a GPU
        crops = None
        if args.int8:
            if not args.calib:
                raise EngineError("--int8 needs --calib DIR|VIDEO with face images to calibrate on")
            crops = _calibration_crops(args.onnx, args.calib)
        precision = "int8" if args.int8 else ("fp16" if args.fp16 else "fp32")
        out = args.out or cache_path(default_cache_dir(), args.onnx, key, precision, args.max_batch)
        out.parent.mkdir(parents=True, exist_ok=True)
        build_engine(args.onnx, out, fp16=args.fp16 or args.int8, int8_crops=crops, max_batch=args.max_batch)
        written = [out]
        seq_onnx = sequence_path_for(args.onnx)
        if seq_onnx.exists():  # the GRU beside the student: X.sequence.engine beside X.engine
            seq_out = out.with_name(out.stem + ".sequence.engine")
            build_engine(seq_onnx, seq_out, fp16=args.fp16 or args.int8, max_batch=args.max_batch)
            written.append(seq_out)
    except EngineError as exc:
        raise BackendError(str(exc)) from exc
    print("wrote " + " and ".join(map(str, written)))
    return 0


def _calibration_crops(onnx_path: Path, calib: Path):
    """Preprocessed aligned face crops from a video, an image or a folder of images."""
    import numpy as np
    import onnx

    from engines.export import face_crops
    from realtime_affect.faces import align
    from realtime_affect.models.backends.onnxruntime import CARD_KEY
    from realtime_affect.models.card import ModelCard

    meta = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    card = ModelCard.from_json(meta[CARD_KEY])
    files = sorted(p for p in calib.iterdir() if p.is_file()) if calib.is_dir() else [calib]
    crops = np.concatenate([face_crops(f, card.input_size, limit=512) for f in files])
    return align.to_input(crops, card.mean, card.std)


def _bench(args: argparse.Namespace) -> int:
    from engines.bench import bench_model
    from realtime_affect.models.loader import open_model

    batches = tuple(int(b) for b in args.batches.split(","))
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = args.model
            if name == "onnxruntime" and args.model.suffix == ".pt":
                from engines.export import export_onnx

                path = export_onnx(args.model, Path(tmp) / "model.onnx").student_path
            if name.startswith("torch-"):
                from realtime_affect.models.backends.torch import load_torch_model

                model = load_torch_model(args.model, device=args.device, half="fp16" in name,
                                         cuda_graphs="graphs" in name, max_batch=max(batches))
                for backend in (model.student, model.sequence):
                    if backend is not None:
                        backend.name = name
            else:
                model = open_model(path, backend=name.split("-")[0], device=args.device)
            with model:
                rows.extend(bench_model(model, batches, args.repeat))
    print(f"{'backend':<12} {'network':<9} {'batch':>5} {'p50 ms':>8} {'p95 ms':>8} {'ms/item':>8} {'items/s':>9}")
    for r in rows:
        print(f"{r.backend:<12} {r.network:<9} {r.batch:>5} {r.p50_ms:>8.2f} {r.p95_ms:>8.2f} "
              f"{r.per_item_ms:>8.2f} {r.items_per_s:>9.0f}")
    if len(names) >= 2:
        base = {(r.network, r.batch): r for r in rows if r.backend == names[0]}
        for r in rows:
            if r.backend != names[0] and (r.network, r.batch) in base:
                print(f"ratio {r.backend}/{names[0]} {r.network} batch {r.batch}: "
                      f"{r.p50_ms / base[(r.network, r.batch)].p50_ms:.2f}x latency")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
