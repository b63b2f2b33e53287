"""Training loop for the student (supervised multi-task, SS-MFAR semi-supervised, teacher-student),
with resume, mixed precision on CUDA and DistributedDataParallel under torchrun."""
from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from realtime_affect.models.card import ModelCard
from realtime_affect.models.checkpoint import save_checkpoint
from realtime_affect.models.student import StudentNet

from . import losses as L
from .augment_batch import mask_patches
from .data import FaceDataset, Sample, label_counts
from .metrics import abaw_metrics
from .tasks import TASKS, LossConfig, task_losses

log = logging.getLogger(__name__)


@dataclass
class StudentConfig:
    out: Path
    arch: str = "small"
    feature_dim: int = 128
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    tasks: tuple[str, ...] = TASKS
    semi_supervised: bool = False
    co_training: bool = False      # seed 001: two masked views, JS consistency of their expressions
    mask_ratio: float = 0.5
    co_weight: float = 1.0
    va_from_scores: bool = False   # seed 001 (EMMA): the VA head also reads the expression and AU scores
    augment: str = "full"
    balance_tasks: bool = True
    distill_lambda: float = 0.6
    temperature: float = 2.0
    workers: int = 2
    seed: int = 0
    resume: bool = False
    device: str = "auto"
    backbone_weights: str | None = None
    input_size: int = 112
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    name: str = "student"
    card_extra: dict = field(default_factory=dict)


class TaskBalancer:
    """Sums task losses, optionally each divided by its running mean so no task drowns the others
    (a task that is learnt fast, such as an easy expression cue, otherwise takes the shared features)."""

    def __init__(self, enabled: bool, momentum: float = 0.9) -> None:
        self.enabled = enabled
        self.momentum = momentum
        self.ema: dict[str, float] = {}

    def __call__(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        if not self.enabled or len(parts) < 2:
            return sum(parts.values())
        total = 0.0
        for name, value in parts.items():
            v = float(value.detach())
            if v > 0:
                self.ema[name] = v if name not in self.ema else self.momentum * self.ema[name] + (1 - self.momentum) * v
            total = total + value / max(self.ema.get(name, 1.0), 1e-3)
        return total


@dataclass
class EpochReport:
    epoch: int
    loss: float
    metrics: dict[str, float]


class Distributed:
    """torchrun's environment: rank, world size, device; a no-op on one process."""

    def __init__(self, device: str) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda":
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
        return model


def _to(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    return {k: (torch.as_tensor(v).to(device, non_blocking=True)) for k, v in batch.items()}


def _loader(dataset, batch_size: int, shuffle: bool, workers: int, dist: Distributed, seed: int):
    sampler = None
    if dist.world > 1:
        sampler = torch.utils.data.distributed.DistributedSampler(dataset, shuffle=shuffle, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None,
                                       sampler=sampler, num_workers=workers, drop_last=shuffle and len(dataset) > batch_size,
                                       persistent_workers=workers > 0, pin_memory=dist.device.type == "cuda",
                                       worker_init_fn=_reseed_worker, generator=generator)


def _reseed_worker(worker_id: int) -> None:
    info = torch.utils.data.get_worker_info()
    if info is not None and hasattr(info.dataset, "reseed"):
        info.dataset.reseed(info.seed % (2 ** 32))


@torch.no_grad()
def predict(student: StudentNet, dataset: FaceDataset, device: torch.device, batch_size: int = 128,
            workers: int = 0) -> dict[str, np.ndarray]:
    """Activated student outputs over a dataset, in order (features, expression, action_units, valence_arousal)."""
    student.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    outs: dict[str, list[np.ndarray]] = {"features": [], "expression": [], "action_units": [], "valence_arousal": []}
    for batch in loader:
        o = student(batch["image"].to(device))
        outs["features"].append(o["features"].float().cpu().numpy())
        outs["expression"].append(o["expression_logits"].float().softmax(-1).cpu().numpy())
        outs["action_units"].append(o["au_logits"].float().sigmoid().cpu().numpy())
        outs["valence_arousal"].append(o["valence_arousal"].float().cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in outs.items()}


def evaluate_outputs(outputs: dict[str, np.ndarray], samples: Sequence[Sample]) -> dict[str, float]:
    return abaw_metrics(outputs["expression"], np.array([s.expression for s in samples]), outputs["action_units"],
                        np.stack([s.aus for s in samples]), outputs["valence_arousal"], np.stack([s.va for s in samples]))


def _card(cfg: StudentConfig) -> ModelCard:
    return ModelCard(name=cfg.name, input_size=cfg.input_size, mean=cfg.mean, std=cfg.std, feature_dim=cfg.feature_dim,
                     trained=tuple(cfg.tasks), student_arch=cfg.arch, extra=dict(cfg.card_extra))


def train_student(cfg: StudentConfig, train: Sequence[Sample], val: Sequence[Sample],
                  soft: dict[str, np.ndarray] | None = None,
                  on_epoch: Callable[[EpochReport], None] | None = None,
                  on_step: Callable[[int, int, float], None] | None = None) -> Path:
    """Train; writes ``out/student.pt`` (best validation P_MTL, runtime format) and ``out/train_state.pt``."""
    dist = Distributed(cfg.device)
    torch.manual_seed(cfg.seed + dist.rank)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    counts, au_pos, au_neg = label_counts(train)
    loss_cfg = LossConfig(tasks=tuple(cfg.tasks), expr_weight=L.class_weights(torch.tensor(counts)).to(dist.device)
                          if counts.sum() else None,
                          au_pos_weight=L.au_pos_weight(torch.tensor(au_pos), torch.tensor(au_neg)).to(dist.device),
                          distill_lambda=cfg.distill_lambda, temperature=cfg.temperature)
    if loss_cfg.expr_weight is not None and float(loss_cfg.expr_weight.sum()) > 0:
        loss_cfg.expr_weight = loss_cfg.expr_weight / loss_cfg.expr_weight[loss_cfg.expr_weight > 0].mean()
    train_ds = FaceDataset(train, cfg.input_size, cfg.mean, cfg.std, train=True, strong_view=cfg.semi_supervised,
                           soft=soft, augment=cfg.augment, seed=cfg.seed + 1000 * dist.rank)
    val_ds = FaceDataset(val, cfg.input_size, cfg.mean, cfg.std)
    if cfg.co_training and cfg.semi_supervised:
        from .data import DataError

        raise DataError("--co-training and --semi-supervised both use a second view of each face: choose one")
    model = StudentNet(cfg.arch, cfg.feature_dim, backbone_weights=cfg.backbone_weights,
                       va_from_scores=cfg.va_from_scores).to(dist.device)
    mask_gen = torch.Generator().manual_seed(cfg.seed + 7919 * dist.rank)
    net = dist.wrap(model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loader = _loader(train_ds, cfg.batch_size, True, cfg.workers, dist, cfg.seed)
    steps = max(1, cfg.epochs * len(loader))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
    use_amp = dist.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    start_epoch, best = 0, -math.inf
    thresholds = torch.ones(8, device=dist.device)
    state_path = out / "train_state.pt"
    if cfg.resume and state_path.exists():
        state = torch.load(state_path, map_location=dist.device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start_epoch, best, thresholds = state["epoch"] + 1, state["best"], state["thresholds"].to(dist.device)
        log.info("resumed %s at epoch %d", out, start_epoch)
    card = _card(cfg)
    balance = TaskBalancer(cfg.balance_tasks)
    for epoch in range(start_epoch, cfg.epochs):
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)
        net.train()
        total, n = 0.0, 0
        correct_probs: list[torch.Tensor] = []
        correct_labels: list[torch.Tensor] = []
        for step, batch in enumerate(loader):
            batch = _to(batch, dist.device)
            with torch.autocast(dist.device.type, enabled=use_amp):
                unl = batch["expression"] < 0
                size = batch["image"].shape[0]
                if cfg.semi_supervised and bool(unl.any()):
                    # weak and strong views in one pass (FixMatch style): shared BatchNorm statistics
                    both = net(torch.cat([batch["image"], batch["strong"][unl]]))
                    outputs = {k: v[:size] for k, v in both.items()}
                    strong_logits = both["expression_logits"][size:]
                elif cfg.co_training:
                    views = torch.cat([mask_patches(batch["image"].cpu(), cfg.mask_ratio, mask_gen)
                                       for _ in range(2)]).to(dist.device)
                    both = net(views)
                    outputs = {k: v[:size] for k, v in both.items()}
                    second = {k: v[size:] for k, v in both.items()}
                else:
                    outputs = net(batch["image"])
                    strong_logits = outputs["expression_logits"][:0]
                parts = task_losses(outputs, batch, loss_cfg)
                if cfg.co_training:
                    other = task_losses(second, batch, loss_cfg)
                    parts = {k: (v + other[k]) / 2 for k, v in parts.items()}
                co = (cfg.co_weight * L.js_consistency(outputs["expression_logits"], second["expression_logits"])
                      if cfg.co_training and "expression" in parts else 0.0)
                if cfg.semi_supervised and "expression" in parts:
                    ce_u, kl = L.semi_supervised_expression_loss(outputs["expression_logits"][unl], strong_logits,
                                                                 thresholds)
                    w1, w2, w3 = L.SS_MFAR_WEIGHTS
                    parts["expression"] = w1 * parts["expression"] + w2 * ce_u + w3 * kl
                    lab = batch["expression"] >= 0
                    correct_probs.append(outputs["expression_logits"][lab].detach().float().softmax(-1))
                    correct_labels.append(batch["expression"][lab])
                loss = balance(parts) + co  # the JS term keeps its own weight (not rescaled by the balancer)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            total += float(loss.detach()) * batch["image"].shape[0]
            n += batch["image"].shape[0]
            if on_step is not None and dist.main:
                on_step(epoch, step, float(loss.detach()))
        if cfg.co_training:  # the masked views shifted BatchNorm's statistics: re-estimate them on whole faces
            from itertools import islice

            from .batchnorm import recalibrate

            recalibrate(model, (b["image"].to(dist.device) for b in islice(loader, max(1, 4096 // cfg.batch_size))))
        if cfg.semi_supervised and correct_probs:
            thresholds = L.adaptive_thresholds(torch.cat(correct_probs), torch.cat(correct_labels), epoch + 1)
        if not dist.main:
            continue
        metrics = evaluate_outputs(predict(model, val_ds, dist.device), val) if len(val) else {}
        score = metrics.get("p_mtl", float("nan"))
        if not len(val) or (not math.isnan(score) and score > best) or epoch == start_epoch and best == -math.inf:
            best = score if not math.isnan(score) else best
            save_checkpoint(out / "student.pt", card, model, extra={"epoch": epoch, "metrics": metrics,
                                                                    "config": _jsonable(asdict(cfg))})
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict(), "epoch": epoch, "best": best, "thresholds": thresholds.cpu()},
                   state_path.with_suffix(".tmp"))
        state_path.with_suffix(".tmp").replace(state_path)
        save_checkpoint(out / "last.pt", card, model, extra={"epoch": epoch, "metrics": metrics})
        if on_epoch is not None:
            on_epoch(EpochReport(epoch, total / max(n, 1), metrics))
    return out / "student.pt"


def _jsonable(d: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}
