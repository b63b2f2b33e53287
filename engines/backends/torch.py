"""PyTorch backend: runs the nn.Modules from a checkpoint on the CPU or a CUDA device."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..card import ModelCard
from .base import SEQUENCE_OUTPUTS, STUDENT_OUTPUTS, AffectModel, Backend, BackendError


class TorchBackend(Backend):
    """Wraps a serving module (tuple outputs in a fixed order) as a Backend."""

    name = "torch"

    def __init__(self, module, card: ModelCard, outputs: tuple[str, ...], device: str = "cpu") -> None:
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu")
        self._torch = torch
        self.device = torch.device(device)
        self.module = module.to(self.device).eval()
        self.card = card
        self.outputs = outputs

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            out = self.module(x)
        return {name: t.float().cpu().numpy() for name, t in zip(self.outputs, out)}


def load_torch_model(path: str | Path, device: str = "cpu") -> AffectModel:
    """Open a ``.pt`` checkpoint as an AffectModel served by torch."""
    from realtime_affect.models.checkpoint import load_checkpoint
    from realtime_affect.models.sequence import ServingSequence
    from realtime_affect.models.student import ServingStudent

    ckpt = load_checkpoint(path)
    student = TorchBackend(ServingStudent(ckpt.student), ckpt.card, STUDENT_OUTPUTS, device)
    sequence = None
    if ckpt.sequence is not None:
        sequence = TorchBackend(ServingSequence(ckpt.sequence), ckpt.card, SEQUENCE_OUTPUTS, device)
    return AffectModel(card=ckpt.card, student=student, sequence=sequence, source=str(path))
