"""The one Backend interface, and the model pair (student + optional sequence model) the runtime serves."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from realtime_affect.errors import ModelError
from realtime_affect.models.card import ModelCard

STUDENT_OUTPUTS = ("features", "expression", "action_units", "valence_arousal")
SEQUENCE_OUTPUTS = ("expression", "action_units", "valence_arousal")


class BackendError(ModelError, RuntimeError):
    """A backend cannot be created or run (missing library, device, or a bad model file)."""


class Backend(ABC):
    """Runs one network: ``backend(batch) -> {output name: array}``.

    Student input: (N, 3, S, S) float32. Sequence input: (B, W, D) float32.
    """

    name: str = "base"
    card: ModelCard

    @abstractmethod
    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        ...

    def close(self) -> None:
        """Release runtime resources (device memory, sessions). Safe to call twice."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class AffectModel:
    """What the pipeline runs: a student backend and, when the model has one, a sequence backend."""

    card: ModelCard
    student: Backend
    sequence: Backend | None = None
    source: str = ""

    @property
    def backend_name(self) -> str:
        return self.student.name

    def close(self) -> None:
        self.student.close()
        if self.sequence is not None:
            self.sequence.close()

    def __enter__(self) -> "AffectModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
