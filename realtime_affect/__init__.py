"""realtime-affect: per-face expressions, action units and valence/arousal from video, in real time.

The public API is imported lazily, so ``import realtime_affect`` stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

#: The package version, single-sourced (pyproject.toml reads it); it follows the bundled default model's
#: release (0.8.0 ships model 0.8.0).
__version__ = "0.8.0"

_EXPORTS = {
    "Analyzer": "realtime_affect.api",
    "AnalyzerOptions": "realtime_affect.analysis.options",
    "Frame": "realtime_affect.types",
    "Face": "realtime_affect.types",
    "FaceResult": "realtime_affect.types",
    "FrameResult": "realtime_affect.types",
    "Prediction": "realtime_affect.types",
    "EXPRESSIONS": "realtime_affect.labels",
    "ACTION_UNITS": "realtime_affect.labels",
    "read_results": "realtime_affect.results",
    "finish_partial": "realtime_affect.results",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.api import Analyzer
    from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS
    from realtime_affect.results import finish_partial, read_results
    from realtime_affect.types import Face, FaceResult, Frame, FrameResult, Prediction


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'realtime_affect' has no attribute {name!r}")
