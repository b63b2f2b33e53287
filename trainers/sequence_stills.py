"""The temporal model (GRU v2) trained on sequences made from labelled stills.

Video of many people with per-frame labels is scarce here, so the training sequences are built
deliberately from the still faces the student learnt on (``faces_recipe``):

* **a face held still**: each step's feature is the student's feature of one of ``views`` augmented
  copies of the face (light pose, framing, blur, noise and light changes), the copy drifting every few
  frames with a linear blend between copies (a face moves smoothly), plus white per-frame feature noise
  sized to the frame-to-frame change measured on real clips (``frame_change``);
* **a change**: in ``transition_rate`` of the sequences the face turns into another face of another
  expression at a random step, blended over 1-8 frames (an onset);
* **short tracks**: some sequences are edge-padded at the front (a new track, live) or the back (the
  tail of a file), like the runtime pads them; padded steps carry no loss.

Targets per step: ``truth_weight`` x the face's label (FER+ vote shares, CK+/CSV one-hot) plus the rest x
the student's reading of the clean face, for expression; the student's clean AUs and VA (blended with the
CK+ FACS codes and the derived VA targets). So the GRU learns to report, steadily, what the student
reads on the face, nudged toward the truth, and to follow a real change within a few frames. A
smoothness term penalises step-to-step change where the target does not change.

Validation builds the same kind of sequences from faces no model trained on (FER+ validation) and
compares the GRU with the per-frame student on the same noisy features: accuracy against the vote
majority (all steps, and the last step: what the causal live path reports), and flips of the top
expression per 100 steps on sequences without a change.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

MAX_SHIFT = 16  # the file path's hop: overlapping windows start this many frames apart


@dataclass
class StillSequenceConfig:
    student: Path                 # checkpoint (.pt) whose features the GRU reads
    data: Path                    # ../shared/data
    out: Path                     # run folder: model.pt (student + GRU), history.json
    cache: Path = Path("build/facecache")
    faces: int = 8000             # training faces in the feature bank (random subset; validation: a quarter)
    views: int = 5                # augmented copies per face (copy 0 is the clean face)
    hidden: int = 128
    epochs: int = 12
    sequences_per_epoch: int = 8000
    batch_size: int = 64
    lr: float = 2e-3
    transition_rate: float = 0.5
    pad_rate: float = 0.3
    noise: float = 0.08           # white per-step feature noise, in per-dimension feature stds (real clips: see
                                  # benchmarks/temporal_clips.py; 0.08 + the drift gives about their change)
    truth_weight: float = 0.5
    smoothness: float = 1.0
    live_consistency: float = 1.0  # last steps of windows one frame apart agree (the live path reports those)
    overlap_consistency: float = 1.0  # windows 1..16 frames apart agree on the frames they share (the file
                                      # path averages overlapping windows)
    skip: bool = False            # v1's per-step feature -> head path (off: outputs only via the GRU state)
    hold: float = 0.0             # weight of the hold term: where the target holds still, the previous step's
    hold_margin: float = 0.1      # top expression stays on top by this margin (learnt hysteresis at near-ties)
    seed: int = 0
    threads: int = 2
    workers: int = 2
    limit: int = 0                # at most this many faces per set (tests and quick trials)


@dataclass
class FeatureBank:
    """Student features of augmented copies of labelled faces, and the targets for each face."""

    features: np.ndarray      # (N, V, D) float32; view 0 = the clean face
    expression: np.ndarray    # (N, 8) target distribution
    majority: np.ndarray      # (N,) int64 label (-1 none)
    aus: np.ndarray           # (N, 12) target probabilities
    va: np.ndarray            # (N, 2)

    def __len__(self) -> int:
        return len(self.majority)


def student_bank(student, prepared, views: int, truth_weight: float, seed: int,
                 batch_size: int = 512) -> FeatureBank:
    """Features of ``views`` copies of every prepared face (copy 0 clean, the rest lightly augmented)
    and the per-face targets (label mixed with the student's clean reading; VA: the rating where there is one,
    else the student's reading)."""
    import torch

    from .augment_batch import AugmentOptions
    from .faces_recipe import _as_input, predict_prepared

    clean = predict_prepared(student, prepared, batch_size)  # copy 0 and the student's own reading
    gen = torch.Generator().manual_seed(seed)
    opts = AugmentOptions.light()
    n = len(prepared)
    feats = np.zeros((n, views) + clean["features"].shape[1:], np.float32)
    feats[:, 0] = clean["features"]
    with torch.no_grad():
        for s in range(0, n, batch_size):
            sl = slice(s, min(n, s + batch_size))
            for v in range(1, views):
                x = _as_input(prepared.crops[sl], gen, augment=True, inside=prepared.inside[sl], options=opts)
                feats[sl, v] = student(x)["features"].numpy()
    w = truth_weight
    has_label = (prepared.expression >= 0)[:, None]
    expression = np.where(has_label, w * prepared.soft + (1 - w) * clean["expression"], clean["expression"])
    has_aus = prepared.aus >= 0
    aus = np.where(has_aus, w * np.clip(prepared.aus, 0, 1) + (1 - w) * clean["action_units"], clean["action_units"])
    # VA: the human rating mixed in where a face has one; elsewhere the student's own reading, which already
    # learnt the expression-derived targets together with what the ratings taught it (pulling the GRU back to
    # the derived targets would undo the ratings).
    rated = np.asarray(prepared.rated, bool)[:, None]
    va = np.where(rated, w * prepared.va + (1 - w) * clean["valence_arousal"], clean["valence_arousal"])
    return FeatureBank(feats, expression.astype(np.float32), prepared.expression.astype(np.int64),
                       aus.astype(np.float32), va.astype(np.float32))


def frame_change(features: np.ndarray, scale: np.ndarray) -> float:
    """Median over steps of the root-mean-square step-to-step feature change of one track (T, D), each
    dimension in units of ``scale`` (D,): the statistic the synthetic sequences' noise is matched to on
    real clips (white noise of ``noise`` stds alone gives about ``noise * sqrt(2)``)."""
    if len(features) < 2:
        return float("nan")
    steps = np.diff(features, axis=0) / np.maximum(scale, 1e-6)
    return float(np.median(np.sqrt((steps ** 2).mean(axis=1))))


def make_sequences(bank: FeatureBank, count: int, window: int, rng: np.random.Generator,
                   transition_rate: float, pad_rate: float, noise: float, scale: np.ndarray) -> dict[str, np.ndarray]:
    """``count`` synthetic windows: features (B, W, D), per-step targets, a loss mask, and whether the
    target changes within each sequence."""
    n, views, dim = bank.features.shape
    a = rng.integers(0, n, count)
    b = rng.integers(0, n, count)
    top = bank.expression.argmax(1)
    same = top[a] == top[b]  # a change should change the expression
    for _ in range(4):
        if not same.any():
            break
        b[same] = rng.integers(0, n, int(same.sum()))
        same = top[a] == top[b]
    change = (rng.random(count) < transition_rate) & ~same
    # blend weight of face b per step: 0 before the onset, ramps to 1 over 1..8 steps
    onset = rng.integers(3, window - 3, count)
    ramp = rng.integers(1, 9, count)
    t = np.arange(window)[None, :]
    alpha = np.clip((t - onset[:, None] + 1) / ramp[:, None], 0, 1) * change[:, None]
    feats = (1 - alpha[..., None]) * _drift(bank, a, window, rng) + alpha[..., None] * _drift(bank, b, window, rng)
    feats += noise * scale * rng.standard_normal(feats.shape).astype(np.float32)
    targets = {}
    for name in ("expression", "aus", "va"):
        values = getattr(bank, name)
        targets[name] = ((1 - alpha[..., None]) * values[a][:, None] + alpha[..., None] * values[b][:, None]).astype(
            np.float32)
    majority = np.where(alpha >= 0.5, bank.majority[b][:, None], bank.majority[a][:, None])
    mask = np.ones((count, window), np.float32)
    pad = rng.random(count) < pad_rate
    for i in np.flatnonzero(pad):
        keep = int(rng.integers(1, window))
        if rng.random() < 0.6:  # a new track: the runtime repeats the first real step in front
            feats[i, :window - keep] = feats[i, window - keep]
            mask[i, :window - keep] = 0
        else:                   # a track's tail in a file: the last real step repeated behind
            feats[i, keep:] = feats[i, keep - 1]
            mask[i, keep:] = 0
    return {"features": feats.astype(np.float32), "mask": mask, "majority": majority.astype(np.int64),
            "change": change, **targets}


def _drift(bank: FeatureBank, faces: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """(B, W, D) features of each face drifting between its augmented copies: a new copy every 3-10 steps,
    linearly blended in between."""
    count = len(faces)
    views = bank.features.shape[1]
    out = np.empty((count, window, bank.features.shape[2]), np.float32)
    for i, face in enumerate(faces):
        anchors = [0]
        while anchors[-1] < window - 1:
            anchors.append(min(window - 1, anchors[-1] + int(rng.integers(3, 11))))
        copies = bank.features[face, rng.integers(0, views, len(anchors))]
        out[i] = _interp(np.array(anchors), copies, window)
    return out


def _interp(anchors: np.ndarray, values: np.ndarray, window: int) -> np.ndarray:
    steps = np.arange(window)
    right = np.clip(np.searchsorted(anchors, steps, side="left"), 1, len(anchors) - 1) if len(anchors) > 1 else None
    if right is None:
        return np.repeat(values[:1], window, axis=0)
    left = right - 1
    span = np.maximum(anchors[right] - anchors[left], 1)
    w = ((steps - anchors[left]) / span).clip(0, 1)[:, None]
    return (1 - w) * values[left] + w * values[right]


def sequence_losses(out, batch, smoothness: float):
    """Soft-target losses per step (masked), plus the smoothness term where the target holds still."""
    import torch.nn.functional as F

    mask = batch["mask"]
    denom = mask.sum().clamp(min=1)
    logp = F.log_softmax(out["expression_logits"], -1)
    expr = (-(batch["expression"] * logp).sum(-1) * mask).sum() / denom
    au = (F.binary_cross_entropy_with_logits(out["au_logits"], batch["aus"], reduction="none").mean(-1)
          * mask).sum() / denom
    va = (((out["valence_arousal"] - batch["va"]) ** 2).mean(-1) * mask).sum() / denom
    probs = out["expression_logits"].softmax(-1)
    still = ((batch["expression"][:, 1:] - batch["expression"][:, :-1]).abs().sum(-1) < 1e-4).float()
    still = still * mask[:, 1:] * mask[:, :-1]
    jitter = ((probs[:, 1:] - probs[:, :-1]).abs().sum(-1) * still).sum() / still.sum().clamp(min=1)
    return expr, au, va, smoothness * jitter


def live_consistency(now, later, full):
    """The live path reports each window's last step: the last steps of two windows one frame apart
    should agree where the target holds still (B, W+1 sequences in ``full``)."""
    exp = full["expression"]
    still = ((exp[:, -1] - exp[:, -2]).abs().sum(-1) < 1e-4).float() * full["mask"][:, -1] * full["mask"][:, -2]
    a = now["expression_logits"][:, -1].softmax(-1)
    b = later["expression_logits"][:, -1].softmax(-1)
    return ((a - b).abs().sum(-1) * still).sum() / still.sum().clamp(min=1)


def overlap_consistency(first, second, shift: int, batch):
    """Two windows ``shift`` frames apart should give the frames they share the same expression
    probabilities (the file path averages overlapping windows: disagreement becomes wobble)."""
    a = first["expression_logits"][:, shift:].softmax(-1)
    b = second["expression_logits"][:, :a.shape[1]].softmax(-1)
    mask = batch["mask"][:, shift:]
    return ((a - b).abs().sum(-1) * mask).sum() / mask.sum().clamp(min=1)


def hold_top(logits, batch, margin: float):
    """Hinge on flips: where the target holds still between steps t-1 and t, the top expression of step
    t-1 (no gradient) should lead step t's probabilities by ``margin``. Near-ties are where argmax labels
    flicker; this teaches the model to keep its last decision there (hysteresis) rather than hover."""
    import torch

    probs = logits.softmax(-1)
    prev = probs[:, :-1].detach().argmax(-1, keepdim=True)
    cur = probs[:, 1:]
    keep = cur.gather(-1, prev).squeeze(-1)
    rival = cur.scatter(-1, prev, -1.0).max(-1).values
    exp = batch["expression"]
    still = ((exp[:, 1:] - exp[:, :-1]).abs().sum(-1) < 1e-4).float() * batch["mask"][:, 1:] * batch["mask"][:, :-1]
    return (torch.relu(margin - (keep - rival)) * still).sum() / still.sum().clamp(min=1)


def flips_per_100(top: np.ndarray, mask: np.ndarray) -> float:
    """Changes of the top class between consecutive real steps, per 100 steps."""
    both = (mask[:, 1:] * mask[:, :-1]) > 0
    changes = (top[:, 1:] != top[:, :-1]) & both
    return float(100.0 * changes.sum() / max(both.sum(), 1))


def majority_agreement(top: np.ndarray, frame_top: np.ndarray, mask: np.ndarray) -> float:
    """Share of real steps where ``top`` (the GRU) reads what the per-frame head reads most often over the same
    sequence's real steps: on held faces, the validation twin of the clips' agreement with the per-frame
    majority (``benchmarks/temporal_clips.py``), so a GRU change can be judged on it before the clips."""
    hits, steps = 0, 0
    for row in range(top.shape[0]):
        real = mask[row] > 0
        if not real.any():
            continue
        majority = np.bincount(frame_top[row][real]).argmax()
        hits += int((top[row][real] == majority).sum())
        steps += int(real.sum())
    return float(hits / max(steps, 1))


def evaluate_sequences(student, net, seqs: dict[str, np.ndarray]) -> dict[str, float]:
    """GRU vs the per-frame student on the same synthetic windows of held-out faces."""
    import torch

    net.eval()
    with torch.no_grad():
        x = torch.from_numpy(seqs["features"])
        frame = student.expression(x).argmax(-1).numpy()
        out = net(x)
        gru = out["expression_logits"].argmax(-1).numpy()
    mask, truth = seqs["mask"] > 0, seqs["majority"]
    labelled = mask & (truth >= 0)
    last = np.zeros_like(mask)
    last[:, -1] = True
    last &= labelled
    still = ~seqs["change"]
    return {
        "frame_accuracy": float((frame == truth)[labelled].mean()),
        "gru_accuracy": float((gru == truth)[labelled].mean()),
        "gru_last_step_accuracy": float((gru == truth)[last].mean()) if last.any() else float("nan"),
        "frame_flips_per_100": flips_per_100(frame[still], mask[still]),
        "gru_flips_per_100": flips_per_100(gru[still], mask[still]),
        "gru_frame_majority_agreement": majority_agreement(gru[still], frame[still], mask[still]),
    }


LIVE_STEPS = 16  # consecutive live readings per validation sequence


def evaluate_live(net, seqs: dict[str, np.ndarray], window: int) -> dict[str, float]:
    """The live path as the runtime serves it: each frame's reading is the last step of the window that ends
    there. ``seqs`` are ``window + LIVE_STEPS - 1`` long; flips counted between consecutive readings of
    sequences whose target holds still (what a webcam user sees as flicker)."""
    import torch

    net.eval()
    x = torch.from_numpy(seqs["features"])
    tops, masks, truths = [], [], []
    with torch.no_grad():
        for start in range(seqs["features"].shape[1] - window + 1):
            end = start + window
            tops.append(net(x[:, start:end])["expression_logits"][:, -1].argmax(-1).numpy())
            masks.append(seqs["mask"][:, end - 1] > 0)
            truths.append(seqs["majority"][:, end - 1])
    top, mask, truth = np.stack(tops, 1), np.stack(masks, 1), np.stack(truths, 1)
    still = ~seqs["change"]
    labelled = mask & (truth >= 0)
    return {"gru_live_accuracy": float((top == truth)[labelled].mean()),
            "gru_live_flips_per_100": flips_per_100(top[still], mask[still].astype(np.float32))}


def _cached_banks(cfg: StillSequenceConfig, student, rows, splits, rng) -> tuple[FeatureBank, FeatureBank]:
    """The training and validation feature banks, cached beside the landmark cache: computing them is
    most of a run (tens of thousands of student passes), and they depend only on the student file, the
    faces and the augmentation seed."""
    import hashlib

    weights = hashlib.sha256()
    for name, tensor in sorted(student.state_dict().items()):  # the weights, not the file: a re-saved or
        weights.update(name.encode())                          # re-carded student keeps its banks
        weights.update(tensor.detach().cpu().numpy().tobytes())
    served = ["mirror"] if student.mirror_average else []  # the same weights served on two views: other features
    key = hashlib.sha256(json.dumps([weights.hexdigest(), *served, "va-rated-only", cfg.faces, cfg.views, cfg.seed,
                                     cfg.truth_weight, cfg.limit, str(Path(cfg.data).resolve())]).encode()).hexdigest()[:12]
    path = Path(cfg.cache) / f"gru-bank-{key}.npz"
    fields = ("features", "expression", "majority", "aus", "va")
    if path.is_file():
        with np.load(path) as z:
            return (FeatureBank(*[z[f"train_{f}"] for f in fields]), FeatureBank(*[z[f"val_{f}"] for f in fields]))
    bank = student_bank(student, rows, cfg.views, cfg.truth_weight, cfg.seed)
    val_faces = splits.val["ferplus_valid"] if "ferplus_valid" in splits.val else next(iter(splits.val.values()))
    val_index = np.flatnonzero(val_faces.fitted & (val_faces.expression >= 0))
    val_count = max(500, cfg.faces // 4)
    if cfg.faces > 0 and val_count < len(val_index):
        val_index = np.sort(rng.choice(val_index, val_count, replace=False))
    val_bank = student_bank(student, val_faces.take(val_index), cfg.views, cfg.truth_weight, cfg.seed + 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **{f"train_{f}": getattr(bank, f) for f in fields}, **{f"val_{f}": getattr(val_bank, f) for f in fields})
    tmp.replace(path)
    return bank, val_bank


def train_still_sequences(cfg: StillSequenceConfig, on_epoch: Callable[[dict], None] | None = None,
                          on_progress: Callable[[str], None] | None = None) -> Path:
    """Build the feature banks, train the GRU, write ``out/model.pt`` (the student + the GRU)."""
    import torch

    from realtime_affect.models.checkpoint import load_checkpoint, save_checkpoint
    from realtime_affect.models.sequence import SequenceNet

    from .faces_recipe import FacesConfig, build_splits, training_rows

    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(cfg.student)
    card, student = ckpt.card, ckpt.student.eval()
    faces_cfg = FacesConfig(data=cfg.data, out=out, cache=cfg.cache, input_size=card.input_size, seed=cfg.seed,
                            workers=cfg.workers, limit=cfg.limit)
    splits = build_splits(faces_cfg, on_progress)
    rows = training_rows(splits.train, ck_repeat=1, csv_cap=faces_cfg.csv_cap_per_class, seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    if 0 < cfg.faces < len(rows):
        rows = rows.take(np.sort(rng.choice(len(rows), cfg.faces, replace=False)))
    t0 = time.perf_counter()
    bank, val_bank = _cached_banks(cfg, student, rows, splits, rng)
    scale = bank.features.reshape(-1, bank.features.shape[-1]).std(0).astype(np.float32)
    if on_progress:
        on_progress(f"feature banks: {len(bank)} training and {len(val_bank)} validation faces x {cfg.views} copies "
                    f"({time.perf_counter() - t0:.0f} s)")
    val_seqs = make_sequences(val_bank, 2000, card.window, np.random.default_rng(cfg.seed + 99), cfg.transition_rate,
                              cfg.pad_rate, cfg.noise, scale)
    live_seqs = make_sequences(val_bank, 1000, card.window + LIVE_STEPS - 1, np.random.default_rng(cfg.seed + 98),
                               cfg.transition_rate, cfg.pad_rate, cfg.noise, scale)
    whole = ~val_seqs["change"] & (val_seqs["mask"].min(1) > 0)
    synthetic_change = float(np.median([frame_change(f, scale) for f in val_seqs["features"][whole][:300]]))
    if on_progress:
        on_progress(f"synthetic frame-to-frame feature change {synthetic_change:.3f} (noise {cfg.noise})")
    torch.manual_seed(cfg.seed)
    net = SequenceNet(card.feature_dim, cfg.hidden, skip=cfg.skip)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    steps_per_epoch = max(1, cfg.sequences_per_epoch // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                pct_start=0.15)
    history: list[dict] = []
    names = ("features", "mask", "expression", "aus", "va")
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        seqs = make_sequences(bank, steps_per_epoch * cfg.batch_size, card.window + MAX_SHIFT, rng,
                              cfg.transition_rate, cfg.pad_rate, cfg.noise, scale)
        net.train()
        sums = np.zeros(7)
        for step in range(steps_per_epoch):
            sl = slice(step * cfg.batch_size, (step + 1) * cfg.batch_size)
            full = {k: torch.from_numpy(seqs[k][sl]) for k in names}
            w = card.window
            batch = {k: v[:, :w] for k, v in full.items()}  # a window, the next frame's, and one 1..16 later
            o = net(batch["features"])
            parts = sequence_losses(o, batch, cfg.smoothness)
            later = net(full["features"][:, 1:w + 1])
            shift = int(rng.integers(1, MAX_SHIFT + 1))
            shifted = later if shift == 1 else net(full["features"][:, shift:shift + w])
            parts = (*parts, cfg.live_consistency * live_consistency(o, later, {k: v[:, :w + 1] for k, v in full.items()}),
                     cfg.overlap_consistency * overlap_consistency(o, shifted, shift, batch))
            if cfg.hold:
                steps = torch.cat([o["expression_logits"], later["expression_logits"][:, -1:]], dim=1)
                parts = (*parts, cfg.hold * hold_top(steps, {k: v[:, :w + 1] for k, v in full.items()},
                                                     cfg.hold_margin))
            loss = sum(parts)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            sums[:len(parts)] += [float(p.detach()) for p in parts]
        record = {"epoch": epoch + 1, "seconds": time.perf_counter() - t0,
                  **dict(zip(("expr_loss", "au_loss", "va_loss", "smooth_loss", "live_loss", "overlap_loss", "hold_loss"),
                             (sums / steps_per_epoch).tolist())),
                  **{f"val/{k}": v for k, v in evaluate_sequences(student, net, val_seqs).items()},
                  **{f"val/{k}": v for k, v in evaluate_live(net, live_seqs, card.window).items()}}
        history.append(record)
        if on_epoch:
            on_epoch(record)
    extra = {"history": history, "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
             "synthetic_frame_change": synthetic_change, "feature_scale": scale.tolist()}
    path = save_checkpoint(out / "model.pt", card, student, net.eval(), extra=extra)
    (out / "history.json").write_text(json.dumps(history, indent=1))
    return path


__all__ = ["StillSequenceConfig", "FeatureBank", "student_bank", "make_sequences", "frame_change",
           "sequence_losses", "live_consistency", "overlap_consistency", "hold_top", "flips_per_100",
           "majority_agreement", "evaluate_sequences", "train_still_sequences"]
