"""Checkpoint files: a student (and optionally a sequence model) with the card the runtime needs."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from realtime_affect.errors import ModelError
from realtime_affect.models.card import CardError, ModelCard
from realtime_affect.models.sequence import SequenceNet
from realtime_affect.models.student import StudentNet

CHECKPOINT_FORMAT = "realtime-affect-checkpoint/1"


class ModelFileError(ModelError, RuntimeError):
    """A model file cannot be used: missing, corrupt, or made for something else."""


@dataclass
class LoadedCheckpoint:
    card: ModelCard
    student: StudentNet
    sequence: SequenceNet | None
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(path: str | Path, card: ModelCard, student: StudentNet,
                    sequence: SequenceNet | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write the models and their card atomically (a stopped write never leaves a half file)."""
    path = Path(path)
    card.has_sequence = sequence is not None
    payload = {
        "format": CHECKPOINT_FORMAT,
        "card": card.to_dict(),
        "student": {"arch": student.arch, "feature_dim": student.neck[1].out_features,
                    "va_from_scores": student.va_from_scores, "mirror_average": student.mirror_average,
                    "state_dict": student.state_dict()},
        "sequence": None if sequence is None else {
            "feature_dim": sequence.gru.input_size, "hidden": sequence.gru.hidden_size,
            "layers": sequence.gru.num_layers, "skip": sequence.skip is not None,
            "state_dict": sequence.state_dict()},
        "extra": extra or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Read a checkpoint written by ``save_checkpoint``; errors name the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise ModelFileError(f"model file {path} is not a readable checkpoint ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"model file {path} is not a realtime-affect checkpoint")
    try:
        card = ModelCard.from_dict(payload["card"])
        card.check_compatible()
    except (CardError, KeyError, TypeError) as exc:
        raise ModelFileError(f"model file {path}: {exc}") from exc
    try:
        spec = payload["student"]
        student = StudentNet(arch=spec["arch"], feature_dim=spec["feature_dim"],
                             va_from_scores=bool(spec.get("va_from_scores", False)),
                             mirror_average=bool(spec.get("mirror_average", False)))
        student.load_state_dict(spec["state_dict"])
        sequence = None
        if payload.get("sequence"):
            spec = payload["sequence"]
            sequence = SequenceNet(feature_dim=spec["feature_dim"], hidden=spec["hidden"], layers=spec["layers"],
                                   skip=bool(spec.get("skip", True)))
            sequence.load_state_dict(spec["state_dict"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"model file {path}: weights do not fit the architecture ({first})") from exc
    if student.neck[1].out_features != card.feature_dim:
        raise ModelFileError(f"model file {path}: card says {card.feature_dim} features, student has "
                             f"{student.neck[1].out_features}")
    card.has_sequence = sequence is not None
    return LoadedCheckpoint(card=card, student=student.eval(), sequence=None if sequence is None else sequence.eval(),
                            extra=payload.get("extra") or {})
