"""Label names and orders shared by the runtime, the trainers and the engines (ABAW conventions).

Pure constants: importing this module costs nothing.
"""
from __future__ import annotations

#: Expression classes in the ABAW order (ids 0..7).
EXPRESSIONS: tuple[str, ...] = (
    "neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise", "other",
)
#: Action units in the ABAW order.
ACTION_UNITS: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU06", "AU07", "AU10", "AU12", "AU15", "AU23", "AU24", "AU25", "AU26",
)
#: Valence and arousal, each in [-1, 1].
VALENCE_AROUSAL: tuple[str, ...] = ("valence", "arousal")

#: Missing-label markers used by annotation files and losses.
MISSING_EXPRESSION = -1
MISSING_AU = -1
MISSING_VA = -5.0

#: Number of frames in one temporal window of the sequence model.
DEFAULT_WINDOW = 32

EXPRESSION_COLUMNS: tuple[str, ...] = tuple(f"expr_{name}" for name in EXPRESSIONS)

#: The CSV contract: every output CSV starts with these columns, in this order.
CSV_COLUMNS: tuple[str, ...] = (
    "frame", "time_s", "track_id", "x", "y", "w", "h", "score", "expression",
    *EXPRESSION_COLUMNS, *ACTION_UNITS, *VALENCE_AROUSAL,
)
