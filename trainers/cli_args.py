"""``affect-train``'s arguments: the subcommands, their options and the option types (``cli.py`` runs them)."""
from __future__ import annotations

import argparse
from pathlib import Path


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
    fc.add_argument("--distill-from", type=Path, nargs="+", default=(), metavar="T.pt",
                    help="teacher checkpoints (seed 004): their expression probabilities, averaged over each face and "
                         "its mirror image and over the teachers, join the targets with --distill-weight")
    fc.add_argument("--distill-au-from", type=Path, metavar="T.pt",
                    help="a checkpoint whose AU probabilities (face and mirror averaged) replace the blendshape AU "
                         "teacher on every face; FACS codes still teach where given (head-by-head distillation)")
    fc.add_argument("--distill-va-from", type=Path, metavar="T.pt",
                    help="a checkpoint whose valence/arousal readings (face and mirror averaged) replace the targets "
                         "derived from the expression labels; human ratings are kept (head-by-head distillation)")
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
