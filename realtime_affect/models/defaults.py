"""Where the bundled default model lives (no torch import here)."""
from __future__ import annotations

from pathlib import Path

from ..assets import ASSETS_DIR

DEFAULT_MODEL = ASSETS_DIR / "default_model.pt"


def resolve_model(path: str | Path | None) -> Path:
    """The model file to open: the given one, or the bundled default."""
    if path:
        return Path(path)
    return DEFAULT_MODEL
