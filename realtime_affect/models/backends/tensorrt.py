"""TensorRT backend (TensorRT 10 named-tensor API + pycuda): engine files written by ``affect-engine build``.

The CUDA primary context is retained when a backend is created (never at import) and released by
``close()`` (or by a failed ``__init__``); host buffers are pinned and typed as the engine says
(``get_tensor_dtype``: an fp16-I/O engine is fed and read as fp16); one CUDA stream carries the copies
and the inference. The batch limit is the engine's own optimisation profile.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from realtime_affect.models.backends.base import SEQUENCE_OUTPUTS, STUDENT_OUTPUTS, AffectModel, Backend
from realtime_affect.models.card import ModelCard
from realtime_affect.models.tensorrt_engines import EngineError, import_pycuda, import_tensorrt, read_engine_file

#: TensorRT DataType names -> numpy dtypes for I/O buffers (names, so this is checkable without TensorRT).
NUMPY_DTYPES: dict[str, type] = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32,
                                 "INT64": np.int64, "BOOL": np.bool_, "UINT8": np.uint8}


def numpy_dtype(trt_dtype: object) -> np.dtype:
    """The numpy dtype of a TensorRT DataType (``DataType.HALF`` -> float16); an error for types numpy
    cannot hold (bf16, fp8, int4)."""
    name = str(trt_dtype).rsplit(".", 1)[-1].upper()
    if name not in NUMPY_DTYPES:
        raise EngineError(f"engine tensor type {name} has no numpy equivalent; export the model with float32 "
                          f"or float16 inputs and outputs")
    return np.dtype(NUMPY_DTYPES[name])


def max_batch_of_profile(profile: tuple) -> int:
    """The largest batch an optimisation profile (min, opt, max shapes) accepts."""
    return int(tuple(profile[2])[0])


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, path: str | Path) -> None:
        trt = import_tensorrt()
        cuda = import_pycuda()
        self.path = Path(path)
        self.card, self.meta, blob = read_engine_file(self.path)
        cuda.init()
        if cuda.Device.count() < 1:
            raise EngineError("no CUDA device found for the TensorRT backend")
        self._cuda = cuda
        self._buffers: dict[str, tuple[np.ndarray, object]] = {}
        self.stream = None
        self.context = None
        self.engine = None
        self._ctx = cuda.Device(0).retain_primary_context()
        self._ctx.push()
        try:
            self._logger = trt.Logger(trt.Logger.WARNING)
            self.engine = trt.Runtime(self._logger).deserialize_cuda_engine(blob)
            if self.engine is None:
                raise EngineError(f"{self.path}: TensorRT could not load it (built for another GPU or version? "
                                  f"it says {self.meta.get('device')})")
            self.context = self.engine.create_execution_context()
            self.stream = cuda.Stream()
            names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
            self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
            self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
            self.dtypes = {n: numpy_dtype(self.engine.get_tensor_dtype(n)) for n in names}
            self.max_batch = max_batch_of_profile(self.engine.get_tensor_profile_shape(self.inputs[0], 0))
        except BaseException:
            self._release()
            raise
        finally:
            if self._ctx is not None:
                self._ctx.pop()

    def _buffer(self, name: str, shape: tuple[int, ...]):
        """Pinned host + device buffers for the largest batch, allocated once per tensor, in its dtype."""
        if name not in self._buffers:
            full = (self.max_batch,) + tuple(shape[1:])
            host = self._cuda.pagelocked_empty(full, dtype=self.dtypes[name])
            self._buffers[name] = (host, self._cuda.mem_alloc(host.nbytes))
        return self._buffers[name]

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        cuda = self._cuda
        n = batch.shape[0]
        if n > self.max_batch:
            parts = [self(batch[i:i + self.max_batch]) for i in range(0, n, self.max_batch)]
            return {k: np.concatenate([h[k] for h in parts]) for k in parts[0]}
        self._ctx.push()
        try:
            name = self.inputs[0]
            host, dev = self._buffer(name, batch.shape)
            host[:n] = batch  # cast to the engine's input type
            if not self.context.set_input_shape(name, tuple(batch.shape)):
                raise EngineError(f"{self.path}: the engine does not accept input shape {tuple(batch.shape)} "
                                  f"(its profile allows batches 1..{self.max_batch})")
            self.context.set_tensor_address(name, int(dev))
            cuda.memcpy_htod_async(dev, host[:n], self.stream)
            outs = {}
            for out in self.outputs:
                shape = tuple(self.context.get_tensor_shape(out))
                o_host, o_dev = self._buffer(out, shape)
                self.context.set_tensor_address(out, int(o_dev))
                outs[out] = (o_host, o_dev, shape)
            if not self.context.execute_async_v3(self.stream.handle):
                raise EngineError(f"{self.path}: TensorRT execution failed")
            for out, (o_host, o_dev, shape) in outs.items():
                cuda.memcpy_dtoh_async(o_host[: shape[0]], o_dev, self.stream)
            self.stream.synchronize()
            return {out: o_host[: shape[0]].reshape(shape).astype(np.float32)
                    for out, (o_host, _, shape) in outs.items()}
        finally:
            self._ctx.pop()

    def _release(self) -> None:
        """Free buffers, stream, context and engine while the CUDA context is current, then let it go.
        Called with the context pushed (from ``__init__``) or not (from ``close``)."""
        for _, dev in self._buffers.values():
            dev.free()
        self._buffers.clear()
        self.stream = None  # pycuda frees the stream now, in this context, not after detach()
        self.context = None
        self.engine = None
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            ctx.pop()
            ctx.detach()

    def close(self) -> None:
        if getattr(self, "_ctx", None) is None:
            return
        self._ctx.push()
        self._release()


def load_tensorrt_model(path: str | Path) -> AffectModel:
    """``X.engine`` (student) and, when the card says so, ``X.sequence.engine``; nothing stays open when
    either fails to load."""
    path = Path(path)
    student = TensorRTBackend(path)
    sequence = None
    try:
        if student.card.has_sequence:
            seq_path = path.with_name(path.stem + ".sequence.engine")
            if not seq_path.exists():
                raise EngineError(f"{path} expects its sequence engine at {seq_path}, which is missing")
            sequence = TensorRTBackend(seq_path)
        for backend, names in ((student, STUDENT_OUTPUTS), (sequence, SEQUENCE_OUTPUTS)):
            if backend is not None and set(backend.outputs) != set(names):
                raise EngineError(f"{backend.path}: outputs {backend.outputs} are not {list(names)}")
    except BaseException:
        if sequence is not None:
            sequence.close()
        student.close()
        raise
    return AffectModel(card=student.card, student=student, sequence=sequence, source=str(path))


__all__ = ["TensorRTBackend", "load_tensorrt_model", "numpy_dtype", "max_batch_of_profile", "ModelCard"]
