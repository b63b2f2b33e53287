"""Per-task losses for one batch, combining ground truth, teacher soft labels and SS-MFAR's unlabelled terms."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from realtime_affect.labels import MISSING_VA

from . import losses as L

TASKS = ("expression", "action_units", "valence_arousal")


@dataclass
class LossConfig:
    tasks: tuple[str, ...] = TASKS
    expr_weight: torch.Tensor | None = None
    au_pos_weight: torch.Tensor | None = None
    distill_lambda: float = 0.6
    temperature: float = 2.0


def _mix(sup: torch.Tensor, soft_l: torch.Tensor, soft_u: torch.Tensor, n_l: int, n_u: int, lam: float) -> torch.Tensor:
    """Seed 004: lam * supervised + (1 - lam) * soft where truth exists, soft alone where it is missing,
    averaged over the samples of the batch."""
    total = n_l + n_u
    if total == 0:
        return sup * 0.0
    return (n_l * L.distilled(sup, soft_l, True, lam) + n_u * soft_u) / total


def task_losses(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], cfg: LossConfig) -> dict[str, torch.Tensor]:
    """Loss per task for student or sequence outputs (any leading shape; labels flattened alike)."""
    expr_logits = out["expression_logits"].reshape(-1, out["expression_logits"].shape[-1])
    au_logits = out["au_logits"].reshape(-1, out["au_logits"].shape[-1])
    va = out["valence_arousal"].reshape(-1, 2)
    expr_t = batch["expression"].reshape(-1)
    au_t = batch["aus"].reshape(-1, au_logits.shape[-1])
    va_t = batch["va"].reshape(-1, 2)
    soft_valid = batch.get("soft_valid")
    soft_valid = soft_valid.reshape(-1).bool() if soft_valid is not None else None
    result: dict[str, torch.Tensor] = {}
    if "expression" in cfg.tasks:
        sup = L.expression_ce(expr_logits, expr_t, cfg.expr_weight)
        if "soft_expression" in batch:
            soft = batch["soft_expression"].reshape(-1, expr_logits.shape[-1])
            has = expr_t >= 0
            sv = soft_valid if soft_valid is not None else torch.ones_like(has)
            kl_l = L.distillation_kl(expr_logits, soft, cfg.temperature, has & sv)
            kl_u = L.distillation_kl(expr_logits, soft, cfg.temperature, ~has & sv)
            result["expression"] = _mix(sup, kl_l, kl_u, int(has.sum()),
                                        int((~has & sv).sum()), cfg.distill_lambda)
        else:
            result["expression"] = sup
    if "action_units" in cfg.tasks:
        sup = L.au_bce(au_logits, au_t, cfg.au_pos_weight)
        if "soft_action_units" in batch:
            soft = batch["soft_action_units"].reshape(-1, au_logits.shape[-1])
            rows = soft_valid if soft_valid is not None else torch.ones(soft.shape[0], dtype=torch.bool,
                                                                        device=soft.device)
            soft_loss = torch.nn.functional.binary_cross_entropy_with_logits(
                au_logits[rows], soft[rows]) if bool(rows.any()) else au_logits.sum() * 0
            has = (au_t >= 0).any(-1)
            result["action_units"] = _mix(sup, soft_loss, soft_loss, int(has.sum()), int((~has & rows).sum()),
                                          cfg.distill_lambda)
        else:
            result["action_units"] = sup
    if "valence_arousal" in cfg.tasks:
        sup = L.ccc_loss(va, va_t)
        if "soft_valence_arousal" in batch:
            soft = batch["soft_valence_arousal"].reshape(-1, 2)
            rows = soft_valid if soft_valid is not None else torch.ones(soft.shape[0], dtype=torch.bool,
                                                                        device=soft.device)
            soft_t = torch.where(rows[:, None], soft, torch.full_like(soft, MISSING_VA))
            soft_loss = L.ccc_loss(va, soft_t) + ((va - soft)[rows] ** 2).mean() if bool(rows.any()) \
                else va.sum() * 0
            has = (va_t > MISSING_VA + 0.5).any(-1)
            result["valence_arousal"] = _mix(sup, soft_loss, soft_loss, int(has.sum()), int((~has & rows).sum()),
                                             cfg.distill_lambda)
        else:
            result["valence_arousal"] = sup
    return result
