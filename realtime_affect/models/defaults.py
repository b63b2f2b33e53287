"""Where the bundled default model lives, checked against its sha256 (no torch import here)."""
from __future__ import annotations

from pathlib import Path

from realtime_affect.assets import CHECKSUMS, asset_path

DEFAULT_TORCH = "default_model.pt"
DEFAULT_ONNX = "default_model.onnx"
DEFAULT_ONNX_SEQUENCE = "default_model.sequence.onnx"


def resolve_model(path: str | Path | None, backend: str = "auto") -> Path:
    """The model file to open: the given one, or the bundled default in the backend's format
    (ONNX for auto/onnxruntime, the fastest on CPU; the checkpoint for torch), after its checksum."""
    if path:
        return Path(path)
    if backend == "torch":
        return asset_path(DEFAULT_TORCH)
    if DEFAULT_ONNX_SEQUENCE in CHECKSUMS:  # shipped only while the default model has a temporal model
        asset_path(DEFAULT_ONNX_SEQUENCE)
    return asset_path(DEFAULT_ONNX)
