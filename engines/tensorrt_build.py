"""Building TensorRT engines from ONNX (TensorRT 10 API), with fp16 or INT8 calibration.

Supported: TensorRT 10 (``tensorrt>=10,<11``). TensorRT 11 removed the builder precision flags, the
implicit INT8 calibrators and ``set_calibration_profile`` that ``--fp16``/``--int8`` use here; it is refused
with a clear message until strongly typed networks (fp16 ONNX, Q/DQ INT8) are supported.

The engine file format, the cache and the version check live in the runtime
(``realtime_affect.models.tensorrt_engines``), which reads what this module writes. Everything here that does
not need TensorRT (profile shapes, calibration batches and cache names) is plain Python and unit-tested on any
machine; ``build_engine`` imports TensorRT when called.
"""
from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from realtime_affect.models.card import ModelCard
from realtime_affect.models.tensorrt_engines import (
    EngineError,
    device_key,
    import_pycuda,
    import_tensorrt,
    write_engine_file,
)

log = logging.getLogger(__name__)

#: Faces per INT8 calibration batch; the calibration profile is fixed at this batch (see ``build_engine``).
CALIBRATION_BATCH = 8


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


@contextmanager
def cuda_context():
    """The first GPU's primary CUDA context, current for the block (pycuda needs one current for every
    allocation and copy, including the INT8 calibrator's during a build); released afterwards."""
    cuda = import_pycuda()
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


def build_engine(onnx_path: Path, out: Path, fp16: bool = True, int8_crops: np.ndarray | None = None,
                 max_batch: int = 16, workspace_gb: float = 2.0) -> Path:
    """Parse the ONNX model, build a serialized engine with an optimisation profile, write it with its card."""
    trt = import_tensorrt()
    import onnx

    from realtime_affect.models.backends.onnxruntime import CARD_KEY, ROLE_KEY

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
