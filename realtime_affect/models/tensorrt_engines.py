"""TensorRT engine files and their cache, as the runtime reads them (TensorRT 10 API; TensorRT and pycuda are
imported only when a function needs them).

An engine file is a header (magic, JSON length, JSON with the model card and build facts) followed by the
serialized engine. Engines run only on the GPU model and TensorRT version they were built for, so the cache
is keyed by both. ``affect-engine build`` (``engines.tensorrt_build``) writes these files; the TensorRT
backend and ``open_model`` read them.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

from realtime_affect.errors import ModelError
from realtime_affect.models.card import ModelCard

MAGIC = b"RAFFTRT1"
ENGINE_SUFFIX = ".engine"
#: TensorRT major versions this code is written and tested against.
SUPPORTED_TENSORRT_MAJOR = (10,)


class EngineError(ModelError, RuntimeError):
    """TensorRT or a GPU is missing, parsing or building failed, or an engine file is damaged."""


# -- engine file: header (magic, JSON length, JSON with the card and build facts) + serialized engine --

def write_engine_file(path: Path, card: ModelCard, meta: dict, engine_bytes: bytes) -> None:
    header = json.dumps({"card": card.to_dict(), **meta}, sort_keys=True).encode()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(MAGIC)
        fh.write(struct.pack("<I", len(header)))
        fh.write(header)
        fh.write(engine_bytes)
    tmp.replace(path)


def read_engine_file(path: Path) -> tuple[ModelCard, dict, bytes]:
    data = Path(path).read_bytes()
    if len(data) < len(MAGIC) + 4 or data[: len(MAGIC)] != MAGIC:
        raise EngineError(f"{path}: not a realtime-affect TensorRT engine (build one with affect-engine build)")
    (n,) = struct.unpack("<I", data[len(MAGIC): len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if start + n > len(data):
        raise EngineError(f"{path}: engine header is truncated")
    try:
        meta = json.loads(data[start: start + n])
    except json.JSONDecodeError as exc:
        raise EngineError(f"{path}: engine header is damaged") from exc
    card = ModelCard.from_dict(meta.pop("card"))
    return card, meta, data[start + n:]


# -- engine cache: engines only run on the GPU model and TensorRT version they were built for --

@dataclass(frozen=True)
class DeviceKey:
    gpu_name: str
    compute_capability: tuple[int, int]
    tensorrt_version: str

    def slug(self) -> str:
        gpu = "".join(c if c.isalnum() else "-" for c in self.gpu_name).strip("-").lower()
        return f"{gpu}-sm{self.compute_capability[0]}{self.compute_capability[1]}-trt{self.tensorrt_version}"


def default_cache_dir() -> Path:
    """``$REALTIME_AFFECT_CACHE`` or ``~/.cache/realtime-affect/engines``."""
    import os

    root = os.environ.get("REALTIME_AFFECT_CACHE") or Path.home() / ".cache" / "realtime-affect"
    return Path(root) / "engines"


def _content_digest(onnx_path: Path) -> str:
    return hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest()[:16]


def cache_path(cache_dir: Path, onnx_path: Path, key: DeviceKey, precision: str, max_batch: int) -> Path:
    """Where the engine for this ONNX file (by content), device and settings lives."""
    digest = _content_digest(onnx_path)
    return Path(cache_dir) / key.slug() / f"{Path(onnx_path).stem}-{digest}-{precision}-b{max_batch}{ENGINE_SUFFIX}"


def find_cached_engine(cache_dir: Path, onnx_path: Path, key: DeviceKey,
                       precisions: tuple[str, ...] = ("fp16", "fp32", "int8")) -> Path | None:
    """The cached engine for this ONNX file and device, whatever ``--max-batch`` it was built with: the
    first precision in ``precisions`` that has one, and of those the largest batch; None when none."""
    folder = Path(cache_dir) / key.slug()
    if not folder.is_dir():
        return None
    prefix = f"{Path(onnx_path).stem}-{_content_digest(onnx_path)}-"
    for precision in precisions:
        found = []
        for path in folder.glob(f"{prefix}{precision}-b*{ENGINE_SUFFIX}"):
            batch = path.name[len(prefix) + len(precision) + 2: -len(ENGINE_SUFFIX)]
            if batch.isdigit():
                found.append((int(batch), path))
        if found:
            return max(found)[1]
    return None


def device_key() -> DeviceKey:
    """The current GPU and TensorRT version (needs both)."""
    trt = import_tensorrt()
    cuda = import_pycuda()
    cuda.init()
    dev = cuda.Device(0)
    return DeviceKey(dev.name(), dev.compute_capability(), trt.__version__)


def check_tensorrt_version(version: str) -> None:
    """Refuse TensorRT versions this code does not support, saying which to install."""
    try:
        major = int(str(version).split(".")[0])
    except ValueError as exc:
        raise EngineError(f"TensorRT reports an unreadable version {version!r}") from exc
    if major not in SUPPORTED_TENSORRT_MAJOR:
        raise EngineError(f"TensorRT {version} is not supported (it removed the precision flags and calibrators "
                          f"used here): pip install 'tensorrt>=10,<11', or 'realtime-affect[tensorrt]'")


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise EngineError("TensorRT is not installed: on an NVIDIA GPU machine, pip install "
                          "'realtime-affect[tensorrt]'") from exc
    check_tensorrt_version(trt.__version__)
    return trt


def import_pycuda():
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        raise EngineError("pycuda is not installed: pip install 'realtime-affect[tensorrt]'") from exc
    return cuda
