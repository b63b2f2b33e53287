"""Sequence-model training (seed 004): student features -> 32-frame windows per video -> bidirectional GRU.

Evaluation runs the runtime's own ``CentredWindows`` so training-time metrics match what users get.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from realtime_affect.labels import MISSING_VA
from realtime_affect.models.checkpoint import load_checkpoint, save_checkpoint
from realtime_affect.models.sequence import SequenceNet
from realtime_affect.temporal.feature_windows import CentredWindows

from .data import FaceDataset, Sample, label_counts
from .loop import Distributed, EpochReport, predict
from .metrics import abaw_metrics
from . import losses as L
from .tasks import LossConfig, task_losses

log = logging.getLogger(__name__)


@dataclass
class SequenceConfig:
    student: Path
    out: Path
    epochs: int = 20
    batch_size: int = 32
    lr: float = 2e-3
    hidden: int = 128
    hop: int = 8
    feature_noise: float = 0.1
    #: Weight of the temporal smoothness term: mean absolute step-to-step change of the activated outputs.
    smoothness: float = 0.1
    seed: int = 0
    device: str = "auto"


def videos_of(samples: Sequence[Sample]) -> list[np.ndarray]:
    """Sample indices grouped by video, in frame order."""
    by_video: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        by_video.setdefault(s.video, []).append(i)
    return [np.array(sorted(idx, key=lambda i: samples[i].frame)) for idx in by_video.values()]


def cut_windows(videos: list[np.ndarray], window: int, hop: int) -> list[np.ndarray]:
    """Index windows (each up to ``window`` long) covering every frame of every video."""
    out = []
    for idx in videos:
        if len(idx) <= window:
            out.append(idx)
            continue
        starts = list(range(0, len(idx) - window + 1, hop))
        if starts[-1] + window < len(idx):
            starts.append(len(idx) - window)
        out.extend(idx[s:s + window] for s in starts)
    return out


def _window_batch(windows: list[np.ndarray], feats: np.ndarray, samples: Sequence[Sample], window: int,
                  soft: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """Stack windows, edge-padding features like the runtime and marking padded steps as missing labels."""
    b, d = len(windows), feats.shape[1]
    x = np.zeros((b, window, d), np.float32)
    expr = np.full((b, window), -1, np.int64)
    aus = np.full((b, window, 12), -1, np.float32)
    va = np.full((b, window, 2), MISSING_VA, np.float32)
    valid = np.zeros((b, window), np.float32)
    soft_out = {k: np.zeros((b, window) + v.shape[1:], np.float32) for k, v in (soft or {}).items()}
    for i, idx in enumerate(windows):
        n = len(idx)
        x[i, :n] = feats[idx]
        x[i, n:] = feats[idx[-1]]
        expr[i, :n] = [samples[j].expression for j in idx]
        aus[i, :n] = np.stack([samples[j].aus for j in idx])
        va[i, :n] = np.stack([samples[j].va for j in idx])
        valid[i, :n] = 1
        for k, v in (soft or {}).items():
            soft_out[k][i, :n] = v[idx]
    batch = {"features": x, "expression": expr, "aus": aus, "va": va}
    if soft:
        batch["soft_valid"] = valid
        batch.update({f"soft_{k}": v for k, v in soft_out.items()})
    return batch


def temporal_smoothness(out: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean absolute change between consecutive steps of the activated outputs (B, W, k)."""
    acts = [out["expression_logits"].softmax(-1), out["au_logits"].sigmoid(), out["valence_arousal"]]
    return sum((a[:, 1:] - a[:, :-1]).abs().mean() for a in acts) / len(acts)


def sequence_predictions(net: SequenceNet, feats: np.ndarray, videos: list[np.ndarray], window: int,
                         device: torch.device) -> dict[str, np.ndarray]:
    """Per-sample GRU predictions with the runtime's centred windows and overlap averaging."""
    from realtime_affect.models.sequence import ServingSequence

    serving = ServingSequence(net).eval()
    n = feats.shape[0]
    out = {"expression": np.zeros((n, 8), np.float32), "action_units": np.zeros((n, 12), np.float32),
           "valence_arousal": np.zeros((n, 2), np.float32)}
    names = ("expression", "action_units", "valence_arousal")
    with torch.no_grad():
        for idx in videos:
            windows = CentredWindows(window)
            observations = [windows.push(0, feats[i]) for i in idx]
            for job in windows.ready() + windows.finish(0):
                res = serving(torch.from_numpy(job.features[None]).to(device))
                windows.accumulate(job, {k: v[0].cpu().numpy() for k, v in zip(names, res)})
            for i, obs in zip(idx, observations):
                for k, v in obs.mean().items():
                    out[k][i] = v
    return out


def train_sequence(cfg: SequenceConfig, train: Sequence[Sample], val: Sequence[Sample],
                   soft: dict[str, np.ndarray] | None = None,
                   on_epoch: Callable[[EpochReport], None] | None = None) -> Path:
    """Extract features with the student, train the GRU, write ``out/model.pt`` (student + GRU)."""
    dist = Distributed(cfg.device)
    torch.manual_seed(cfg.seed)
    ckpt = load_checkpoint(cfg.student)
    card = ckpt.card
    student = ckpt.student.to(dist.device)
    feats = {}
    for name, samples in (("train", train), ("val", val)):
        ds = FaceDataset(samples, card.input_size, card.mean, card.std)
        feats[name] = predict(student, ds, dist.device)["features"] if len(samples) else np.zeros((0, card.feature_dim))
    train_windows = cut_windows(videos_of(train), card.window, cfg.hop)
    net = SequenceNet(card.feature_dim, cfg.hidden).to(dist.device)
    counts, au_pos, au_neg = label_counts(train)
    weight = L.class_weights(torch.tensor(counts)).to(dist.device) if counts.sum() else None
    if weight is not None:
        weight = weight / weight[weight > 0].mean()
    loss_cfg = LossConfig(tasks=tuple(card.trained), expr_weight=weight,
                          au_pos_weight=L.au_pos_weight(torch.tensor(au_pos), torch.tensor(au_neg)).to(dist.device))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    steps = max(1, cfg.epochs * int(np.ceil(len(train_windows) / cfg.batch_size)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
    rng = np.random.default_rng(cfg.seed)
    best, out = -np.inf, Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    val_videos = videos_of(val)
    for epoch in range(cfg.epochs):
        net.train()
        order = rng.permutation(len(train_windows))
        total, n = 0.0, 0
        for s in range(0, len(order), cfg.batch_size):
            chosen = [train_windows[i] for i in order[s:s + cfg.batch_size]]
            batch = {k: torch.from_numpy(v).to(dist.device)
                     for k, v in _window_batch(chosen, feats["train"], train, card.window, soft).items()}
            x = batch["features"]
            if cfg.feature_noise:
                x = x + cfg.feature_noise * x.std() * torch.randn_like(x)
            pred = net(x)
            loss = sum(task_losses(pred, batch, loss_cfg).values())
            if cfg.smoothness:
                loss = loss + cfg.smoothness * temporal_smoothness(pred)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(chosen)
            n += len(chosen)
        metrics = {}
        if len(val):
            net.eval()
            preds = sequence_predictions(net, feats["val"], val_videos, card.window, dist.device)
            metrics = abaw_metrics(preds["expression"], np.array([s.expression for s in val]), preds["action_units"],
                                   np.stack([s.aus for s in val]), preds["valence_arousal"], np.stack([s.va for s in val]))
        score = metrics.get("p_mtl", 0.0)
        if not len(val) or score > best or epoch == 0:
            best = max(best, score)
            card.has_sequence = True
            save_checkpoint(out / "model.pt", card, ckpt.student.cpu(), net.cpu().eval(),
                            extra={"epoch": epoch, "metrics": metrics, "student": str(cfg.student)})
            net.to(dist.device)
            ckpt.student.to(dist.device)
        if on_epoch is not None:
            on_epoch(EpochReport(epoch, total / max(n, 1), metrics))
    return out / "model.pt"
