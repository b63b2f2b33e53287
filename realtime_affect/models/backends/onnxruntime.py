"""ONNX Runtime backend: CPU by default, the CUDA provider when asked for and present."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from realtime_affect.models.backends.base import SEQUENCE_OUTPUTS, STUDENT_OUTPUTS, AffectModel, Backend, BackendError
from realtime_affect.models.card import CardError, ModelCard

CARD_KEY = "realtime_affect.card"
ROLE_KEY = "realtime_affect.role"


def sequence_path_for(student_path: Path) -> Path:
    """Where the sequence model of a student ``X.onnx`` lives: ``X.sequence.onnx``."""
    return student_path.with_name(student_path.stem + ".sequence.onnx")


class OnnxRuntimeBackend(Backend):
    """One ONNX model in an InferenceSession; the model card is read from the file's metadata."""

    name = "onnxruntime"

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        self.device, self.threads = device, threads
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendError("--device cuda with onnxruntime needs the onnxruntime-gpu package "
                                   "(CUDAExecutionProvider is not available)")
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise BackendError(f"model file {self.path} cannot be loaded by onnxruntime ({exc})") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        if CARD_KEY not in meta:
            raise BackendError(f"model file {self.path} carries no realtime-affect model card; export it with "
                               f"affect-engine export")
        try:
            self.card = ModelCard.from_json(meta[CARD_KEY])
            self.card.check_compatible()
        except CardError as exc:
            raise BackendError(f"model file {self.path}: {exc}") from exc
        self.role = meta.get(ROLE_KEY, "student")
        self.input_name = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        values = self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})
        return dict(zip(self.outputs, values))

    def close(self) -> None:
        self.session = None


def load_onnx_model(path: str | Path, device: str = "cpu", threads: int | None = None) -> AffectModel:
    """Open ``X.onnx`` (student) and, if present, ``X.sequence.onnx`` as an AffectModel."""
    path = Path(path)
    student = OnnxRuntimeBackend(path, device, threads)
    if student.role != "student" or tuple(student.outputs) != STUDENT_OUTPUTS:
        raise BackendError(f"model file {path} is not a student model (role {student.role!r}); pass the "
                           f"student .onnx file")
    sequence = None
    seq_path = sequence_path_for(path)
    if student.card.has_sequence:
        if not seq_path.exists():
            raise BackendError(f"model file {path} expects its sequence model at {seq_path}, which is missing")
        # The GRU's steps run one after another: on the CPU a second thread only spins and takes the cores
        # the landmarker and the student need (one window: 0.43 ms median, p95 0.51 ms with one thread;
        # 0.47 / 4.6 ms with two, this 2-core machine under load).
        sequence = OnnxRuntimeBackend(seq_path, device, threads if device.startswith("cuda") else 1)
        if tuple(sequence.outputs) != SEQUENCE_OUTPUTS or sequence.card.to_dict() != student.card.to_dict():
            raise BackendError(f"{seq_path} does not belong to {path} (different card or outputs)")
    return AffectModel(card=student.card, student=student, sequence=sequence, source=str(path))


def card_metadata(card: ModelCard, role: str) -> dict[str, str]:
    return {CARD_KEY: json.dumps(card.to_dict(), sort_keys=True), ROLE_KEY: role}
