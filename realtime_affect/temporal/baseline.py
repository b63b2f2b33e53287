"""Per-person baseline: read each face relative to that person's own neutral face.

Many people's resting face reads "sad" or "angry" to a model trained on other people. As OpenFace
normalises action units by each person's neutral, we read a face relative to what the model says about the
same person when they are neutral:

    reading' = reading - strength * clip(baseline - reference)

in the space where the outputs add: expression log-probabilities (renormalised afterwards), AU logits, and
valence/arousal. ``baseline`` is the model's reading of this person's neutral face; ``reference`` is what the
model reads on a typical neutral face of the population (the model card's ``neutral_reading``, measured on
neutral training faces), so this person's neutral face reads exactly as a typical neutral face does, and every
other reading of this person moves by the same amount. The shift is capped (``max_shift``): a resting face
moves a reading by a little, and a baseline that reads strongly as an expression (learnt on a period when the
person was not neutral at all) cannot erase a real expression. Pure numpy.

Three ways to get a baseline (``AnalyzerOptions.baseline``):
- a ``NeutralReading`` measured on images or a video of the person's neutral face (``--baseline-from``),
  applied to every face of the run (one-person use: a participant, a driver);
- ``"auto"``: each track learns its own neutral from its calm frames (``AutoBaselineOptions``);
- a ``NeutralReading`` saved earlier (``--save-baseline`` / ``--load-baseline``, JSON keyed by person).
"""
from __future__ import annotations

import json
import logging
import math
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from realtime_affect.errors import InputError
from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS
from realtime_affect.types import Prediction, calibrated_confidence

log = logging.getLogger(__name__)

BASELINE_FORMAT = 1
_EPS = 1e-6


class BaselineError(InputError, ValueError):
    """A baseline file or request that cannot be used (says what to do instead)."""


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(p, np.float64), _EPS, 1.0))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


@dataclass
class NeutralReading:
    """A reading in the spaces the correction works in: expression log-probabilities (8), AU logits (12),
    valence/arousal (2); ``frames``: how many face readings it summarises (median of each value)."""

    expression: np.ndarray
    action_units: np.ndarray
    valence_arousal: np.ndarray
    frames: int = 1

    @classmethod
    def from_predictions(cls, predictions: Sequence[Prediction]) -> "NeutralReading":
        """The per-value median of several readings of one person's neutral face (robust to a blink or a
        badly fitted frame)."""
        if not predictions:
            raise BaselineError("no face was found to learn the neutral baseline from: give images or a video "
                                "in which the person's face is visible")
        expr = np.median(np.stack([_log(p.expression) for p in predictions]), axis=0)
        aus = np.median(np.stack([_logit(p.action_units) for p in predictions]), axis=0)
        va = np.median(np.stack([np.asarray(p.valence_arousal, np.float64) for p in predictions]), axis=0)
        return cls(expr, aus, va, frames=len(predictions))

    def to_dict(self) -> dict:
        return {"expression_logprob": dict(zip(EXPRESSIONS, _rounded(self.expression))),
                "au_logit": dict(zip(ACTION_UNITS, _rounded(self.action_units))),
                "valence_arousal": _rounded(self.valence_arousal), "frames": int(self.frames)}

    @classmethod
    def from_dict(cls, data: dict) -> "NeutralReading":
        try:
            expr = np.array([float(data["expression_logprob"][c]) for c in EXPRESSIONS])
            aus = np.array([float(data["au_logit"][a]) for a in ACTION_UNITS])
            va = np.array([float(v) for v in data["valence_arousal"]])
            frames = int(data.get("frames", 1))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"baseline entry is incomplete or malformed ({exc!r})") from None
        if va.shape != (2,) or not (np.isfinite(expr).all() and np.isfinite(aus).all() and np.isfinite(va).all()):
            raise BaselineError("baseline entry has non-finite values or a valence/arousal pair of the wrong size")
        return cls(expr, aus, va, frames)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]


#: The reference when a model card carries no ``neutral_reading``: a confident neutral expression, AUs at
#: 0.1, valence/arousal at the origin.
FALLBACK_REFERENCE = NeutralReading(
    expression=_log(np.array([0.86] + [0.02] * (len(EXPRESSIONS) - 1))),
    action_units=_logit(np.full(len(ACTION_UNITS), 0.1)),
    valence_arousal=np.zeros(2))


def reference_from_card(card) -> NeutralReading:
    """The model's reading of a typical neutral face (card ``neutral_reading``), else ``FALLBACK_REFERENCE``."""
    data = getattr(card, "neutral_reading", None)
    if data:
        return NeutralReading.from_dict(data)
    return FALLBACK_REFERENCE


@dataclass
class CorrectionOptions:
    #: Share of the person's offset from the typical neutral that is removed (1: all of it, up to the cap).
    strength: float = 1.0
    #: Largest shift, in nats, of any expression log-probability (after centring) or AU logit.
    max_shift: float = 2.0
    #: Largest shift of valence or arousal.
    max_va_shift: float = 0.4
    #: Where the expression offset is removed: "prob" (probabilities, clipped at 0 and renormalised) or "log"
    #: (log-probabilities, centred and capped at ``max_shift``).
    space: str = "log"
    #: Log space: probabilities below this count as this much when the offset is measured (the log of a tiny
    #: probability is noise, and INT8 outputs come in steps of 1/255).
    floor: float = 0.02


def correct(pred: Prediction, baseline: NeutralReading, reference: NeutralReading,
            options: CorrectionOptions, temperature: float = 1.0) -> Prediction:
    """``pred`` read relative to ``baseline`` (see the module docstring)."""
    a, cap = options.strength, options.max_shift
    if options.space == "log":
        fl = np.log(max(options.floor, _EPS))
        shift = a * (np.maximum(baseline.expression, fl) - np.maximum(reference.expression, fl))
        shift = np.clip(shift - shift.mean(), -cap, cap)
        logp = _log(pred.expression) - shift
        expr = np.exp(logp - logp.max())
    else:
        shift = a * (np.exp(baseline.expression) - np.exp(reference.expression))
        expr = np.clip(np.asarray(pred.expression, np.float64) - shift, _EPS, None)
    expr /= expr.sum()
    au_shift = np.clip(a * (baseline.action_units - reference.action_units), -cap, cap)
    aus = 1.0 / (1.0 + np.exp(-(_logit(pred.action_units) - au_shift)))
    va_shift = np.clip(a * (baseline.valence_arousal - reference.valence_arousal),
                       -options.max_va_shift, options.max_va_shift)
    va = np.clip(np.asarray(pred.valence_arousal, np.float64) - va_shift, -1.0, 1.0)
    expression = expr.astype(np.float32)
    return Prediction(expression=expression, action_units=aus.astype(np.float32),
                      valence_arousal=va.astype(np.float32),
                      confidence=calibrated_confidence(expression, temperature))


@dataclass
class AutoBaselineOptions:
    """How a track learns its own neutral face (``--baseline auto``).

    Over the last ``period_s`` seconds of the track, the calm frames are the ``calm_share`` of frames with
    the least facial movement (mean AU probability; not the expression, which may be the resting face); the
    baseline is the median reading of those frames (OpenFace's person-specific normalisation also takes a
    median, on the assumption that people are mostly neutral). It is used once the calm frames span at least
    ``min_calm_s`` seconds, and refreshed every ``refresh_s`` seconds."""

    period_s: float = 60.0
    calm_share: float = 0.5
    min_calm_s: float = 5.0
    refresh_s: float = 1.0


@dataclass
class _TrackHistory:
    readings: deque = field(default_factory=deque)  # (time_s, activity, the frame's Prediction)
    baseline: NeutralReading | None = None
    refreshed_at: float = -math.inf


def activity(pred: Prediction) -> float:
    """How much the face moves in one reading: the mean AU probability. (Not the expression: a resting face
    that reads sad is exactly what the baseline is for.)"""
    return float(np.mean(pred.action_units))


class BaselineCorrector:
    """Applies a fixed baseline to every face, or learns one per track (``auto``), to each ``Prediction``."""

    def __init__(self, reference: NeutralReading, fixed: NeutralReading | None = None, auto: bool = False,
                 options: CorrectionOptions | None = None, auto_options: AutoBaselineOptions | None = None,
                 temperature: float = 1.0) -> None:
        if fixed is None and not auto:
            raise BaselineError("a baseline corrector needs a neutral reading or auto")
        self.reference = reference
        self.fixed = fixed
        self.auto = auto and fixed is None
        self.options = options or CorrectionOptions()
        self.auto_options = auto_options or AutoBaselineOptions()
        self.temperature = temperature
        self._tracks: dict[int, _TrackHistory] = {}

    def __call__(self, track_id: int, time_s: float, pred: Prediction) -> tuple[Prediction, bool]:
        """(the corrected prediction, whether a baseline was applied)."""
        baseline = self.fixed if self.fixed is not None else self._learn(track_id, time_s, pred)
        if baseline is None:
            return pred, False
        return correct(pred, baseline, self.reference, self.options, self.temperature), True

    def baseline_of(self, track_id: int) -> NeutralReading | None:
        """The baseline in use for a track (the fixed one, or the one it learnt so far)."""
        if self.fixed is not None:
            return self.fixed
        history = self._tracks.get(track_id)
        return history.baseline if history else None

    def learnt(self) -> dict[int, NeutralReading]:
        """Every track's learnt baseline (auto), by track id."""
        return {k: h.baseline for k, h in self._tracks.items() if h.baseline is not None}

    def _learn(self, track_id: int, time_s: float, pred: Prediction) -> NeutralReading | None:
        o = self.auto_options
        h = self._tracks.setdefault(track_id, _TrackHistory())
        h.readings.append((time_s, activity(pred), pred))
        while h.readings and h.readings[0][0] < time_s - o.period_s:
            h.readings.popleft()
        if time_s - h.refreshed_at >= o.refresh_s:
            h.refreshed_at = time_s
            readings = list(h.readings)
            calm = _calm(readings, o.calm_share)
            if len(calm) >= 2 and len(calm) * _frame_interval(readings) >= o.min_calm_s:
                h.baseline = NeutralReading.from_predictions([r[2] for r in calm])
        return h.baseline


def _calm(readings: list, share: float) -> list:
    """The ``share`` of readings with the least activity, in time order."""
    if not readings:
        return []
    k = max(1, int(round(len(readings) * share)))
    order = sorted(range(len(readings)), key=lambda i: readings[i][1])[:k]
    return [readings[i] for i in sorted(order)]


def _frame_interval(readings: list) -> float:
    """Median seconds between consecutive readings (0 with fewer than two)."""
    if len(readings) < 2:
        return 0.0
    return float(np.median(np.diff([r[0] for r in readings])))


# -- files -----------------------------------------------------------------------------------------

def save_baseline(path: str | Path, person: str, reading: NeutralReading, model: str) -> Path:
    """Store ``reading`` under ``person`` in a JSON baseline file, keeping the other people already in it
    (written to a temporary file, then renamed: an interrupted run never leaves half a file)."""
    path = Path(path)
    people: dict = {}
    if path.exists():
        people = _read(path)["people"]
    people[person] = {**reading.to_dict(), "model": model}
    text = json.dumps({"format": BASELINE_FORMAT, "kind": "realtime-affect baseline", "people": people}, indent=1)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_baseline(path: str | Path, person: str | None, model: str | None = None) -> NeutralReading:
    """The baseline of ``person`` in a baseline file (the only one when ``person`` is None); ``model``: the
    running model's ``name version``, checked against the one the baseline was measured with."""
    data = _read(Path(path))
    people = data["people"]
    if person is None:
        if len(people) != 1:
            raise BaselineError(f"{path} holds {len(people)} people ({', '.join(sorted(people)) or 'none'}): "
                                "say which with --person NAME")
        person = next(iter(people))
    if person not in people:
        raise BaselineError(f"{path} has no baseline for {person!r} (it has: {', '.join(sorted(people)) or 'none'})")
    entry = people[person]
    if model is not None and entry.get("model") not in (None, model):
        raise BaselineError(f"{path}: the baseline of {person!r} was measured with model {entry.get('model')!r}, "
                            f"this run uses {model!r}; measure it again with --baseline-from")
    return NeutralReading.from_dict(entry)


def check_baseline_file(path: str | Path) -> None:
    """Fail early when ``path`` exists and is not a baseline file (``save_baseline`` would refuse it at the end
    of a run; a user's other file is never overwritten)."""
    if Path(path).exists():
        _read(Path(path))


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{path}: not a readable baseline file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT or not isinstance(data.get("people"), dict):
        raise BaselineError(f"{path}: not a realtime-affect baseline file (format {BASELINE_FORMAT})")
    return data


def model_key(card) -> str:
    """How a baseline file names the model it was measured with."""
    return f"{card.name} {card.version}"


__all__ = ["NeutralReading", "CorrectionOptions", "AutoBaselineOptions", "BaselineCorrector", "BaselineError",
           "FALLBACK_REFERENCE", "reference_from_card", "correct", "activity", "save_baseline", "load_baseline",
           "model_key", "check_baseline_file"]
