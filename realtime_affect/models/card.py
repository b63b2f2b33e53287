"""The model card: everything a runtime needs to feed a model and read its outputs.

A model file carries its card (a dict in torch checkpoints, metadata in ONNX, a header in TensorRT
engines); nothing guesses preprocessing from a file name or a tensor shape. Pure: no heavy imports.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from realtime_affect.errors import ModelError
from realtime_affect.labels import ACTION_UNITS, DEFAULT_WINDOW, EXPRESSIONS

CARD_FORMAT_VERSION = 1


class CardError(ModelError, ValueError):
    """A model card is missing, malformed, or disagrees with this runtime."""


@dataclass
class ModelCard:
    """Describes a student (+ optional sequence model) pair.

    ``mean``/``std`` apply to RGB pixels scaled to [0, 1]; the student input is
    (N, 3, input_size, input_size) float32, channels first, RGB.
    """

    name: str = "unnamed"
    version: str = "0"
    input_size: int = 112
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    expressions: tuple[str, ...] = EXPRESSIONS
    action_units: tuple[str, ...] = ACTION_UNITS
    feature_dim: int = 128
    window: int = DEFAULT_WINDOW
    #: Which outputs were trained ("expression", "action_units", "valence_arousal"); untrained heads
    #: are reported as missing rather than as made-up numbers.
    trained: tuple[str, ...] = ("expression", "action_units", "valence_arousal")
    student_arch: str = "small"
    #: Temperature that calibrates the expression probabilities' top-class confidence (``expr_confidence``),
    #: fitted on validation data by ``scripts/calibrate_expression.py``; 1.0: not calibrated.
    expression_temperature: float = 1.0
    #: The model's reading of a typical neutral face (median over neutral training faces; see
    #: ``temporal/baseline.py``): the reference a person's own neutral is compared with. None: not measured.
    neutral_reading: dict[str, Any] | None = None
    has_sequence: bool = False
    description: str = ""
    format_version: int = CARD_FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("mean", "std", "expressions", "action_units", "trained"):
            data[key] = list(data[key])
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCard":
        if not isinstance(data, dict):
            raise CardError("model card is not a mapping")
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("mean", "std", "expressions", "action_units", "trained"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        card = cls(**kwargs)
        if unknown:
            card.extra = {**card.extra, **{k: data[k] for k in unknown}}
        return card

    @classmethod
    def from_json(cls, text: str) -> "ModelCard":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise CardError(f"model card is not valid JSON ({exc})") from exc

    def check_compatible(self) -> None:
        """Raise CardError when this card disagrees with what the runtime serves."""
        if self.format_version > CARD_FORMAT_VERSION:
            raise CardError(
                f"model card format {self.format_version} is newer than this runtime's "
                f"({CARD_FORMAT_VERSION}); upgrade realtime-affect")
        if tuple(self.expressions) != EXPRESSIONS:
            raise CardError(f"model expression labels {list(self.expressions)} differ from the "
                            f"runtime's {list(EXPRESSIONS)}")
        if tuple(self.action_units) != ACTION_UNITS:
            raise CardError(f"model action units {list(self.action_units)} differ from the "
                            f"runtime's {list(ACTION_UNITS)}")
        if self.window < 1 or self.window > 1024:
            raise CardError(f"model window length {self.window} is out of range 1..1024")
        if self.input_size < 16 or self.input_size > 1024:
            raise CardError(f"model input size {self.input_size} is out of range 16..1024")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise CardError("model mean/std must be three numbers each, std > 0")
