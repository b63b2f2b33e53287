"""Where the bundled default model lives (no torch import here)."""
from __future__ import annotations

from pathlib import Path

from ..assets import ASSETS_DIR

#: The default model as a torch checkpoint and as ONNX (student; the GRU in default_model.sequence.onnx).
DEFAULT_TORCH = ASSETS_DIR / "default_model.pt"
DEFAULT_ONNX = ASSETS_DIR / "default_model.onnx"


def resolve_model(path: str | Path | None, backend: str = "auto") -> Path:
    """The model file to open: the given one, or the bundled default in the backend's format
    (ONNX for auto/onnxruntime: the fastest on CPU; the checkpoint for torch)."""
    if path:
        return Path(path)
    return DEFAULT_TORCH if backend == "torch" else DEFAULT_ONNX
