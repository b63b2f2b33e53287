"""The default model's training recipe: a multi-task student on real labelled faces of many people.

Data (``../shared/data``, see its README): FER+ (10 votes per face -> soft expression targets),
CK+ (posed expressions + FACS action units; split by subject), a CSV + image folder set (muxspace: hard
labels), and a rated set (DiffusionFER: expressions plus human valence/arousal ratings; 20% of its files
held out). Every face goes through the runtime's landmarker and ``align`` once (``face_cache``).

Losses (seed 004, multi-task with missing labels):
- expression: soft-target cross-entropy against the vote shares / one-hot labels, each face weighted by
  ``(n_max / n_class) ** class_power`` of its majority class so fear, disgust and other are not drowned;
- action units: ``0.6 * BCE(FACS codes)`` where a face has them (CK+) ``+ 0.4 * BCE(teacher)`` everywhere,
  the teacher being blendshapes -> AUs fitted on the CK+ training subjects (``au_teacher``);
- valence/arousal: MSE + (1 - CCC) against the human ratings where a face has them (DiffusionFER, repeated
  ``rated_repeat`` times per epoch), elsewhere against targets derived from the expression distribution
  through documented circumplex centroids (``va_targets``; seed 001 reads VA from expression scores).
Settings are chosen on FER+ validation and the held-out CK+ subjects, never on a clip. The last epoch of
the one-cycle schedule is what ships (choosing the best epoch on the validation data would flatter it).

This module is the training loop; its parts are ``faces_config`` (the settings), ``faces_data`` (the sets,
splits and prepared crops) and ``faces_steps`` (losses and per-batch steps), re-exported here.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS

from .augment_batch import AugmentOptions
from .faces_config import FacesConfig
from .faces_data import (
    PreparedSet,
    Splits,
    _take_fit,  # noqa: F401 (scripts import it from here)
    build_splits,
    grey_crops,
    load_sets,
    prepare,
    training_label_counts,
    training_rows,
    unlabelled_rows,
    va_targets,
    validation_sets,
)
from .faces_steps import (
    WARP_TARGET_SHARE,  # noqa: F401 (re-exported)
    _as_input,
    _co_training_losses,
    _losses,
    _semi_supervised_losses,
    au_positive_weights,
    class_weights,
    confident_teacher_weights,
    count_by_label,
    distilled_targets,
    ensemble_teacher,
    flip_averaged_expression,  # noqa: F401 (re-exported)
    flip_averaged_readings,
    mixup_batch,
    predict_prepared,
    recalibrate_batchnorm,
    teacher_student,
    va_agreement,
    warp_neutral_faces,
)

log = logging.getLogger(__name__)


def train_faces(cfg: FacesConfig, on_epoch: Callable[[dict], None] | None = None,
                on_progress: Callable[[str], None] | None = None, splits: Splits | None = None) -> Path:
    """Train and write ``out/student.pt`` (runtime checkpoint with its card) and ``out/train_state.pt``.

    ``splits``: reuse sets already built by ``build_splits`` for the same data, seed and input size
    (several runs in one process, e.g. an ablation)."""
    import torch

    from realtime_affect.models.card import ModelCard
    from realtime_affect.models.checkpoint import save_checkpoint
    from realtime_affect.models.student import StudentNet

    from .face_metrics import au_report, expression_report

    if not 0.0 <= cfg.distill_weight <= 1.0 or not 0.0 <= cfg.ema < 1.0:
        from .data import DataError

        raise DataError(f"--distill-weight must be in [0, 1] and --ema in [0, 1) (got {cfg.distill_weight}, "
                        f"{cfg.ema})")
    if cfg.distill_confident_weight > 0:
        from .data import DataError

        if not cfg.distill_teacher:
            raise DataError("--distill-confident-weight weights the open teacher's readings: give --distill-teacher")
        if not 0.0 < cfg.distill_confident_weight <= 1.0 or not 0.0 < cfg.distill_confident_min <= 1.0:
            raise DataError(f"--distill-confident-weight and --distill-confident-min must be in (0, 1] (got "
                            f"{cfg.distill_confident_weight}, {cfg.distill_confident_min})")
        unknown = [c for c in (*cfg.distill_confident_classes, *cfg.distill_confident_over) if c not in EXPRESSIONS]
        if unknown or not cfg.distill_confident_classes:
            raise DataError(f"--distill-confident-classes / --distill-confident-over: unknown or no class "
                            f"{unknown} (choose from {', '.join(EXPRESSIONS)})")
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = splits if splits is not None else build_splits(cfg, on_progress)
    rows = training_rows(splits.train, cfg.ck_repeat, cfg.csv_cap_per_class, cfg.seed, cfg.rated_repeat)
    if 0 < cfg.train_faces < len(rows):
        rows = rows.take(np.sort(np.random.default_rng(cfg.seed).choice(len(rows), cfg.train_faces, replace=False)))
    log.info("training on %d faces per epoch", len(rows))
    if len(rows) == 0:
        from .data import DataError

        raise DataError("no training face has an expression label and a landmark fit")
    class_w = torch.from_numpy(class_weights(rows.expression, cfg.class_power))
    au_pw = torch.from_numpy(au_positive_weights(rows.aus, cfg.au_pos_power)) if cfg.au_pos_power > 0 else None
    if au_pw is not None:
        log.info("AU positive weights: %s", ", ".join(f"{a} {w:.1f}" for a, w in zip(ACTION_UNITS, au_pw.tolist())))
    torch.manual_seed(cfg.seed)
    model = StudentNet(cfg.arch, cfg.feature_dim, va_from_scores=cfg.va_from_scores)
    if cfg.init:
        from realtime_affect.models.checkpoint import load_checkpoint

        start_from = load_checkpoint(cfg.init)
        if (start_from.student.arch != cfg.arch or start_from.card.input_size != cfg.input_size
                or start_from.student.va_from_scores != cfg.va_from_scores):
            from .data import DataError

            raise DataError(f"{cfg.init} is a {start_from.student.arch} student at {start_from.card.input_size} px; "
                            f"this run trains {cfg.arch} at {cfg.input_size} px")
        start_net, shipped_bias = teacher_student(cfg.init)
        model.load_state_dict(start_net.state_dict())
        log.info("starting from the weights of %s%s", cfg.init,
                 f" (its shipped logit bias {shipped_bias} removed)" if shipped_bias else "")
    aug_options = AugmentOptions() if cfg.augment == "strong" else AugmentOptions.light()
    aug_options.face_parts = cfg.part_occlusion
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(rows) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                pct_start=0.2)
    start = 0
    thresholds = torch.ones(len(EXPRESSIONS))  # SS-MFAR: nothing is confident before the first epoch
    history: list[dict] = []
    state_path = out / "train_state.pt"
    if cfg.resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        planned = state.get("planned_epochs", cfg.epochs)
        if planned != cfg.epochs:
            from .data import DataError

            raise DataError(f"{out} was planned for {planned} epochs (its learning-rate schedule depends on it); "
                            f"resume with --epochs {planned}, or start a new run in another --out folder")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, history = state["epoch"] + 1, state["history"]
        thresholds = state.get("thresholds", thresholds)
        log.info("resumed %s at epoch %d", out, start + 1)
    unlabelled = unlabelled_rows(splits.train, cfg.csv_cap_per_class, cfg.seed) if cfg.semi_supervised else None
    if unlabelled is not None:
        if cfg.co_training:
            from .data import DataError

            raise DataError("co-training and semi-supervised training both use a second view of each face: choose one")
        log.info("semi-supervised: %d unlabelled faces", len(unlabelled))
    soft = rows.soft
    read_by: dict[Path, dict[str, np.ndarray]] = {}

    def teacher_readings(path: Path) -> dict[str, np.ndarray]:
        """A teacher's flip-averaged readings of every training face (once per teacher)."""
        if path not in read_by:
            read_by[path] = flip_averaged_readings(teacher_student(path)[0], rows.crops)
        return read_by[path]

    if cfg.distill_from or cfg.distill_teacher:
        teacher_probs = None
        if cfg.distill_from:
            teacher_probs = np.mean([teacher_readings(t)["expression"] for t in cfg.distill_from],
                                    axis=0).astype(np.float32)
        weight: float | np.ndarray = cfg.distill_weight
        if cfg.distill_teacher:
            teacher_probs = ensemble_teacher(teacher_probs, rows.teacher_expr, rows.soft)
            if cfg.distill_confident_weight > 0:
                weight = confident_teacher_weights(rows.soft, rows.teacher_expr, cfg.distill_weight,
                                                   cfg.distill_confident_weight, cfg.distill_confident_classes,
                                                   cfg.distill_confident_min, cfg.distill_confident_over)
                raised = weight != cfg.distill_weight
                log.info("teacher share %.2f on %d faces where %s reads %s with >= %.2f against the labels (%s); "
                         "their labels' first class: %s", cfg.distill_confident_weight, int(raised.sum()),
                         cfg.distill_teacher, "/".join(cfg.distill_confident_classes), cfg.distill_confident_min,
                         "/".join(cfg.distill_confident_over) or "any first class", count_by_label(rows.soft, raised))
        soft = distilled_targets(soft, teacher_probs, weight)
        log.info("distilling expressions from %s (weight %.2f)",
                 " + ".join([*map(str, cfg.distill_from), *([cfg.distill_teacher] if cfg.distill_teacher else [])]),
                 cfg.distill_weight)
    au_teacher, va = rows.au_teacher, rows.va
    if cfg.distill_au_from:
        au_teacher = teacher_readings(cfg.distill_au_from)["action_units"]
        log.info("AU teacher: %s on every face (FACS codes still teach where given)", cfg.distill_au_from)
    if cfg.distill_va_from:
        va = va.copy()
        unrated = ~rows.rated
        va[unrated] = teacher_readings(cfg.distill_va_from)["valence_arousal"][unrated]
        log.info("valence/arousal targets: %s's readings on %d faces without a human rating", cfg.distill_va_from,
                 int(unrated.sum()))
    ema = None
    if cfg.ema > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        if cfg.resume and state_path.is_file() and "ema" in state:
            ema.load_state_dict(state["ema"])
    tensors = {
        "soft": torch.from_numpy(soft), "expression": torch.from_numpy(np.maximum(rows.expression, 0)),
        "aus": torch.from_numpy(rows.aus.astype(np.float32)), "au_teacher": torch.from_numpy(au_teacher),
        "va": torch.from_numpy(va),
    }
    card = ModelCard(name=cfg.name, input_size=cfg.input_size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                     feature_dim=cfg.feature_dim, trained=("expression", "action_units", "valence_arousal"),
                     student_arch=cfg.arch, extra=dict(cfg.card_extra))
    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        order = torch.randperm(len(rows), generator=gen).numpy()
        model.train()
        sums = np.zeros(5)
        correct: list[tuple[np.ndarray, np.ndarray]] = []
        for step in range(steps_per_epoch):
            idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            batch = {k: v[idx] for k, v in tensors.items()}
            crops = rows.crops[idx]
            if cfg.synth_expressions > 0:
                crops = warp_neutral_faces(crops, batch, cfg.synth_expressions, gen, cfg.synth_strength,
                                           cfg.synth_kinds, cfg.synth_au_codes)
            x = _as_input(crops, gen, augment=True, inside=rows.inside[idx], options=aug_options)
            if cfg.co_training:
                expr, au, va, co = _co_training_losses(model, x, batch, class_w, cfg.mask_ratio, gen)
            elif unlabelled is not None and len(unlabelled):
                expr, au, va, co, seen = _semi_supervised_losses(model, x, batch, class_w, unlabelled, thresholds,
                                                                 gen, max(1, cfg.batch_size // 2))
                correct.append(seen)
            else:
                if cfg.mixup > 0 and bool(torch.rand(1, generator=gen) < 0.5):
                    x, batch = mixup_batch(x, batch, gen, cfg.mixup)
                expr, au, va = _losses(model(x), batch, class_w, au_pw)
                co = torch.zeros(())
            loss = expr + cfg.au_weight * au + cfg.va_weight * va
            if cfg.co_training:
                loss = loss + cfg.co_weight * co  # (semi-supervised: ``co`` is the unlabelled term, already in expr)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(model)
            sums += [float(loss.detach()), float(expr.detach()), float(au.detach()), float(va.detach()),
                     float(co.detach())]
        if cfg.co_training:
            recalibrate_batchnorm(model, rows, gen, aug_options, cfg.batch_size)
        if correct:
            from .losses import adaptive_thresholds

            probs = torch.from_numpy(np.concatenate([c[0] for c in correct]))
            thresholds = adaptive_thresholds(probs, torch.from_numpy(np.concatenate([c[1] for c in correct])),
                                             epoch + 1)
        served = ema.module if ema is not None else model
        metrics = {}
        for name, s in splits.val.items():
            pred = predict_prepared(served, s)
            m = expression_report(pred["expression"], s.expression)
            metrics[f"{name}/accuracy"] = m["accuracy"]
            metrics[f"{name}/macro_f1"] = m["macro_f1"]
            if name.endswith("_left_out") or name == "ferplus_valid":
                metrics.update({f"{name}/recall_{c}": r for c, r in m["recall"].items()})
            if (s.aus >= 0).any():
                metrics[f"{name}/au_macro_f1"] = au_report(pred["action_units"], s.aus)["macro_f1"]
            metrics[f"{name}/va_ccc"] = va_agreement(pred["valence_arousal"], s.va)
            if s.name == "diffusionfer":
                from .metrics import ccc

                metrics[f"{name}/valence_ccc"] = ccc(pred["valence_arousal"][:, 0], s.va[:, 0])
                metrics[f"{name}/arousal_ccc"] = ccc(pred["valence_arousal"][:, 1], s.va[:, 1])
        mean = [float(v) / steps_per_epoch for v in sums]
        record = {"epoch": epoch + 1, "loss": mean[0], "expr_loss": mean[1], "au_loss": mean[2], "va_loss": mean[3],
                  **({"co_training_js": mean[4]} if cfg.co_training else {}),
                  **({"unlabelled_loss": mean[4], "thresholds": thresholds.tolist()} if unlabelled is not None else {}),
                  "seconds": time.perf_counter() - t0, **{k: float(v) for k, v in metrics.items()}}
        history.append(record)
        extra = {"epoch": epoch + 1, "history": history, "config": _jsonable(asdict(cfg)),
                 "fit_report": splits.fit_report, "ck_val_subjects": splits.ck_val_subjects}
        save_checkpoint(out / "student.pt", card, served, extra=extra)
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "epoch": epoch, "history": history, "planned_epochs": cfg.epochs, "thresholds": thresholds,
                    **({"ema": ema.state_dict()} if ema is not None else {})},
                   state_path.with_suffix(".tmp"))
        state_path.with_suffix(".tmp").replace(state_path)
        (out / "history.json").write_text(json.dumps(history, indent=1))
        if on_epoch:
            on_epoch(record)
    return out / "student.pt"


def _jsonable(d: dict) -> dict:
    def plain(v):
        return str(v) if isinstance(v, Path) else [plain(x) for x in v] if isinstance(v, (tuple, list)) else v

    return {k: plain(v) for k, v in d.items()}


__all__ = ["FacesConfig", "PreparedSet", "Splits", "build_splits", "train_faces", "grey_crops", "class_weights",
           "training_rows", "predict_prepared", "load_sets", "prepare", "validation_sets",
           "training_label_counts", "va_agreement", "unlabelled_rows", "recalibrate_batchnorm", "va_targets",
           "mixup_batch", "au_positive_weights", "ensemble_teacher", "count_by_label",
           "confident_teacher_weights"]
