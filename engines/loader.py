"""Open a model file with the right backend: chosen by file suffix and the ``backend`` option."""
from __future__ import annotations

from pathlib import Path

from .backends.base import AffectModel, BackendError

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")


def open_model(path: str | Path, backend: str = "auto", device: str = "cpu") -> AffectModel:
    """Load a student (+ sequence) model from ``path``.

    ``.pt``/``.pth`` checkpoints run with torch, ``.onnx`` files with ONNX Runtime (with the sequence
    model in ``X.sequence.onnx`` beside ``X.onnx``). ``backend='auto'`` picks by suffix.
    """
    path = Path(path)
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not path.exists():
        raise BackendError(f"model file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth"):
        if backend not in ("auto", "torch"):
            raise BackendError(f"{path} is a torch checkpoint; export it first (affect-engine export) to use "
                               f"--backend {backend}")
        from .backends.torch import load_torch_model

        return load_torch_model(path, device=device)
    if suffix == ".onnx":
        if backend not in ("auto", "onnxruntime"):
            raise BackendError(f"{path} is an ONNX model; use --backend onnxruntime (or auto)")
        from .backends.onnxruntime import load_onnx_model

        return load_onnx_model(path, device=device)
    raise BackendError(f"cannot open model file {path}: unknown suffix {suffix!r} (expected .pt or .onnx)")
