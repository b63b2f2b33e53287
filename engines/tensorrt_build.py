"""TensorRT engines (TensorRT 10 API): building from ONNX, the engine file header, and the engine cache.

Supported: TensorRT 10 (``tensorrt>=10,<11``). TensorRT 11 removed the builder precision flags, the
implicit INT8 calibrators and ``set_calibration_profile`` that ``--fp16``/``--int8`` use here; it is refused
with a clear message until strongly typed networks (fp16 ONNX, Q/DQ INT8) are supported.

Everything that does not need TensorRT (version check, cache keys and lookup, the header, profile shapes,
calibration batches and cache names, dtype names) is plain Python and unit-tested on any machine;
``build_engine`` imports TensorRT when called.
"""
from __future__ import annotations

import hashlib
import json
import logging
import struct
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .card import ModelCard

log = logging.getLogger(__name__)

MAGIC = b"RAFFTRT1"
ENGINE_SUFFIX = ".engine"
#: TensorRT major versions this code is written and tested against.
SUPPORTED_TENSORRT_MAJOR = (10,)
#: Faces per INT8 calibration batch; the calibration profile is fixed at this batch (see ``build_engine``).
CALIBRATION_BATCH = 8


class EngineError(RuntimeError):
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


# -- optimisation profiles --

def profile_shapes(card: ModelCard, role: str, max_batch: int) -> dict[str, tuple[tuple, tuple, tuple]]:
    """(min, opt, max) shapes per input: 1..max faces for the student, 1..max tracks for the GRU."""
    if max_batch < 1:
        raise ValueError("max_batch must be >= 1")
    opt = max(1, min(max_batch, 4))
    if role == "student":
        s = card.input_size
        return {"input": ((1, 3, s, s), (opt, 3, s, s), (max_batch, 3, s, s))}
    if role == "sequence":
        w, d = card.window, card.feature_dim
        return {"features": ((1, w, d), (opt, w, d), (max_batch, w, d))}
    raise ValueError(f"unknown role {role!r}")


def calibration_profile_shapes(card: ModelCard, role: str, batch: int) -> dict[str, tuple[tuple, tuple, tuple]]:
    """The INT8 calibration profile: min = opt = max at the calibrator's batch. With dynamic shapes
    TensorRT calibrates at the calibration profile's opt shape, so a batch of 8 against the serving
    profile's opt of 4 would silently drop half of every calibration batch."""
    _, opt, _ = profile_shapes(card, role, batch)[_input_name(role)]
    fixed = (batch,) + tuple(opt[1:])
    return {_input_name(role): (fixed, fixed, fixed)}


def _input_name(role: str) -> str:
    return "input" if role == "student" else "features"


# -- INT8 calibration data --

def calibration_cache_path(out: Path, crops: np.ndarray) -> Path:
    """The calibration cache beside the engine, named by the calibration data's content: new ``--calib``
    data computes new scales instead of reusing the old ones."""
    digest = hashlib.sha256(np.ascontiguousarray(crops, np.float32).tobytes()).hexdigest()[:16]
    return Path(out).with_name(f"{Path(out).stem}-{digest}.calib")


def calibration_batches(crops: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Full batches of preprocessed face crops (N, 3, S, S) float32; the short remainder is dropped,
    as TensorRT's calibrator expects one fixed batch size."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    for start in range(0, len(crops) - batch_size + 1, batch_size):
        yield np.ascontiguousarray(crops[start:start + batch_size], dtype=np.float32)


def device_key() -> DeviceKey:
    """The current GPU and TensorRT version (needs both)."""
    trt = _import_tensorrt()
    cuda = _import_pycuda()
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


def _import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise EngineError("TensorRT is not installed: on an NVIDIA GPU machine, pip install "
                          "'realtime-affect[tensorrt]'") from exc
    check_tensorrt_version(trt.__version__)
    return trt


@contextmanager
def cuda_context():
    """The first GPU's primary CUDA context, current for the block (pycuda needs one current for every
    allocation and copy, including the INT8 calibrator's during a build); released afterwards."""
    cuda = _import_pycuda()
    cuda.init()
    if cuda.Device.count() < 1:
        raise EngineError("no CUDA device found")
    ctx = cuda.Device(0).retain_primary_context()
    ctx.push()
    try:
        yield cuda
    finally:
        ctx.pop()
        ctx.detach()


def _import_pycuda():
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        raise EngineError("pycuda is not installed: pip install 'realtime-affect[tensorrt]'") from exc
    return cuda


def build_engine(onnx_path: Path, out: Path, fp16: bool = True, int8_crops: np.ndarray | None = None,
                 max_batch: int = 16, workspace_gb: float = 2.0) -> Path:
    """Parse the ONNX model, build a serialized engine with an optimisation profile, write it with its card."""
    trt = _import_tensorrt()
    from .backends.onnxruntime import CARD_KEY, ROLE_KEY

    import onnx

    meta_props = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    if CARD_KEY not in meta_props:
        raise EngineError(f"{onnx_path}: carries no model card; export it with affect-engine export")
    card = ModelCard.from_json(meta_props[CARD_KEY])
    role = meta_props.get(ROLE_KEY, "student")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        for error in errors:
            log.error("TensorRT ONNX parser: %s", error)
        raise EngineError(f"{onnx_path}: TensorRT could not parse it ({errors[0] if errors else 'no detail'})")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in profile_shapes(card, role, max_batch).items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    with cuda_context() as cuda:
        calibrator = None
        if int8_crops is not None:
            if len(int8_crops) < CALIBRATION_BATCH:
                raise EngineError(f"INT8 calibration needs at least {CALIBRATION_BATCH} faces, got {len(int8_crops)}")
            config.set_flag(trt.BuilderFlag.INT8)
            calibrator = _make_calibrator(trt, cuda, int8_crops, calibration_cache_path(out, int8_crops))
            config.int8_calibrator = calibrator
            calib_profile = builder.create_optimization_profile()
            for name, (lo, opt, hi) in calibration_profile_shapes(card, role, CALIBRATION_BATCH).items():
                calib_profile.set_shape(name, lo, opt, hi)
            config.set_calibration_profile(calib_profile)
        try:
            serialized = builder.build_serialized_network(network, config)
        finally:
            if calibrator is not None:
                calibrator.release()
    if serialized is None:
        raise EngineError(f"{onnx_path}: TensorRT failed to build an engine (see the log above)")
    key = device_key()
    write_engine_file(out, card, {"role": role, "precision": "int8" if int8_crops is not None else
                                  ("fp16" if fp16 else "fp32"), "max_batch": max_batch,
                                  "device": key.slug()}, bytes(serialized))
    return out


def _make_calibrator(trt, cuda, crops: np.ndarray, cache: Path):
    """An entropy calibrator feeding ``CALIBRATION_BATCH`` faces at a time (the calibration profile's
    batch); its device buffer is allocated in the current context and freed by ``release()``."""
    batch_size = CALIBRATION_BATCH

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()
            self.batches = calibration_batches(crops, batch_size)
            self.device = cuda.mem_alloc(batch_size * int(np.prod(crops.shape[1:])) * 4)

        def release(self) -> None:
            if self.device is not None:
                self.device.free()
                self.device = None

        def get_batch_size(self) -> int:
            return batch_size

        def get_batch(self, names):
            batch = next(self.batches, None)
            if batch is None:
                return None
            cuda.memcpy_htod(self.device, batch)
            return [int(self.device)]

        def read_calibration_cache(self):
            return cache.read_bytes() if cache.exists() else None

        def write_calibration_cache(self, data) -> None:
            cache.write_bytes(bytes(data))

    return Calibrator()
