"""One analysis session per input: the face finder, the tracker, the student, the temporal model, the
baseline and the row measures of one stream, opened and closed together by ``open_session``.

    with open_session(model, RunningMode.VIDEO, AnalyzerOptions()) as session:
        for result in session.run(frames, stop=stop):
            ...

Running modes (``RunningMode``): IMAGE (independent stills), VIDEO (a file or stream: every frame, results in
order once the temporal model's centred windows are final), LIVE (a camera or caller's frames: each frame's
results at once). ``AnalyzerOptions`` holds the nested options (finder, tracker, eyes) and validates them.
Names are imported lazily so that ``import realtime_affect.analysis`` stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AnalyzerOptions": "realtime_affect.analysis.options",
    "AnalysisSession": "realtime_affect.analysis.session",
    "RunningMode": "realtime_affect.analysis.session",
    "open_session": "realtime_affect.analysis.session",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from realtime_affect.analysis.options import AnalyzerOptions
    from realtime_affect.analysis.session import AnalysisSession, RunningMode, open_session


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'realtime_affect.analysis' has no attribute {name!r}")
