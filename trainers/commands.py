"""``affect-train``'s subcommands: each reads its data, trains or evaluates, and prints what it did (``cli.py``
parses the arguments and turns errors into exit codes)."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger("trainers")


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


def _epoch_printer(console):
    def show(report) -> None:
        m = report.metrics
        text = " ".join(f"{k} {v:.3f}" for k, v in m.items())
        console.print(f"epoch {report.epoch + 1}: loss {report.loss:.4f}  {text}")
    return show


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


def student(args: argparse.Namespace, console) -> int:
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


def pseudo_label(args: argparse.Namespace, console) -> int:
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


def sequence(args: argparse.Namespace, console) -> int:
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


def evaluate(args: argparse.Namespace, console) -> int:
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


def faces(args: argparse.Namespace, console) -> int:
    from .faces_recipe import FacesConfig, train_faces

    cfg = FacesConfig(data=args.data, out=args.out, cache=args.cache, arch=args.arch, input_size=args.input_size,
                      epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, class_power=args.class_power,
                      use_csv_set=not args.no_csv_set, use_rated_set=not args.no_rated_set,
                      rated_repeat=args.rated_repeat, leave_out=args.leave_out, limit=args.limit, threads=args.threads, workers=args.workers,
                      seed=args.seed, resume=args.resume, init=args.init, augment=args.augment,
                      train_faces=args.train_faces, co_training=args.co_training, mask_ratio=args.mask_ratio,
                      co_weight=args.co_weight, va_from_scores=args.va_from_scores,
                      semi_supervised=args.semi_supervised, distill_from=tuple(args.distill_from),
                      distill_au_from=args.distill_au_from, distill_va_from=args.distill_va_from,
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


def sequence_faces(args: argparse.Namespace, console) -> int:
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


def faces_eval(args: argparse.Namespace, console) -> int:
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


def teacher_labels(args: argparse.Namespace, console) -> int:
    from .prepare import find_videos
    from .teachers.label import label_videos

    videos = [v for location in args.videos for v in find_videos(location)]
    result = label_videos(videos, args.out, every=args.every, as_truth=args.as_truth,
                          on_video=lambda name, n: console.print(f"{name}: {n} faces labelled"))
    console.print(f"wrote {result.annotations}, {result.soft} ({result.faces} faces)")
    return 0


def agreement(args: argparse.Namespace, console) -> int:
    from .prepare import find_videos
    from .teachers.agreement import clip_agreement, write_report

    rows = []
    for clip in (v for location in args.videos for v in find_videos(location)):
        rows.append(clip_agreement(args.model, clip))
        console.print(rows[-1])
    write_report(rows, args.report, f"{args.model.name}: agreement with the teacher ensemble on held-out clips")
    console.print(f"wrote {args.report}")
    return 0


def prepare(args: argparse.Namespace, console) -> int:
    from .prepare import find_videos, prepare_videos

    videos = find_videos(args.videos)
    prepare_videos(videos, args.out, args.size,
                   on_video=lambda name, n, total: console.print(f"{name}: {n} of {total} frames with a face"))
    return 0

