"""Open a model file with the right backend: chosen by file suffix and the ``backend`` option."""
from __future__ import annotations

from pathlib import Path

from realtime_affect.models.backends.base import AffectModel, BackendError

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")


def open_model(path: str | Path, backend: str = "auto", device: str = "cpu",
               threads: int | None = None) -> AffectModel:
    """Load a student (+ sequence) model from ``path``.

    ``.pt``/``.pth`` checkpoints run with torch, ``.onnx`` files with ONNX Runtime (with the sequence
    model in ``X.sequence.onnx`` beside ``X.onnx``), ``.engine`` files with TensorRT. ``backend='auto'``
    picks the fastest available: a cached TensorRT engine for an ONNX model on CUDA, the ONNX export beside
    a checkpoint on the CPU, else by suffix. ``threads`` caps ONNX Runtime's intra-op threads (batch
    workers share the cores).
    """
    path = Path(path)
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not path.exists():
        raise BackendError(f"model file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth"):
        exported = path.with_suffix(".onnx")
        if backend == "auto" and not device.startswith("cuda") and exported.exists():
            # On the CPU ONNX Runtime is several times faster than torch (affect-engine bench): use the
            # export beside the checkpoint when there is one.
            from realtime_affect.models.backends.onnxruntime import load_onnx_model

            return load_onnx_model(exported, device=device, threads=threads)
        if backend not in ("auto", "torch"):
            raise BackendError(f"{path} is a torch checkpoint; export it first (affect-engine export) to use "
                               f"--backend {backend}")
        from realtime_affect.models.backends.torch import load_torch_model

        fast = device.startswith("cuda")  # fp16 + CUDA graphs: the fast torch path on NVIDIA GPUs
        return load_torch_model(path, device=device, half=fast, cuda_graphs=fast)
    if suffix == ".onnx":
        if backend == "tensorrt" or (backend == "auto" and device.startswith("cuda")):
            engine = _cached_engine(path)
            if engine is not None:
                return _tensorrt(engine)
            if backend == "tensorrt":
                raise BackendError(f"no TensorRT engine built for {path} on this GPU: run affect-engine build {path}")
        elif backend not in ("auto", "onnxruntime"):
            raise BackendError(f"{path} is an ONNX model; use --backend onnxruntime (or auto)")
        from realtime_affect.models.backends.onnxruntime import load_onnx_model

        return load_onnx_model(path, device=device, threads=threads)
    if suffix == ".engine":
        if backend not in ("auto", "tensorrt"):
            raise BackendError(f"{path} is a TensorRT engine; use --backend tensorrt (or auto)")
        return _tensorrt(path)
    raise BackendError(f"cannot open model file {path}: unknown suffix {suffix!r} (expected .pt, .onnx or .engine)")


def _tensorrt(path: Path) -> AffectModel:
    from realtime_affect.models.backends.tensorrt import load_tensorrt_model
    from realtime_affect.models.tensorrt_engines import EngineError

    try:
        return load_tensorrt_model(path)
    except EngineError as exc:
        raise BackendError(str(exc)) from exc


def _cached_engine(onnx_path: Path) -> Path | None:
    """The engine built for this ONNX file on this GPU (any ``--max-batch``), if TensorRT is here and one
    was built."""
    from realtime_affect.models.tensorrt_engines import EngineError, default_cache_dir, device_key, find_cached_engine

    try:
        key = device_key()
    except EngineError:
        return None
    return find_cached_engine(default_cache_dir(), onnx_path, key)
