"""Export a checkpoint to ONNX (student + sequence model), card in the metadata, checked against torch.

Nothing is written unless ONNX Runtime reproduces the torch outputs on real face crops.
"""
from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime_affect.errors import ModelError
from realtime_affect.models.backends.base import SEQUENCE_OUTPUTS, STUDENT_OUTPUTS, BackendError
from realtime_affect.models.backends.onnxruntime import card_metadata, sequence_path_for

log = logging.getLogger(__name__)

DEFAULT_CHECK_MEDIA = Path(__file__).resolve().parent.parent / "tests" / "data" / "single_face.mp4"


class ExportError(ModelError, RuntimeError):
    """The export failed or its result disagrees with torch."""


@dataclass
class ExportReport:
    student_path: Path
    sequence_path: Path | None
    max_abs_diff: dict[str, float]
    crops: int


def face_crops(media: str | Path, size: int, limit: int = 32) -> np.ndarray:
    """Aligned BGR crops (N, size, size, 3) from a video or image, with the runtime's own code."""
    import cv2

    from realtime_affect.faces import align
    from realtime_affect.faces.landmarker import Landmarker, LandmarkerOptions
    from realtime_affect.sources import IMAGE_SUFFIXES, VideoSource, read_image

    media = Path(media)
    crops = []
    if media.suffix.lower() in IMAGE_SUFFIXES:
        with Landmarker(LandmarkerOptions(max_faces=8), video=False) as lm:
            bgr = read_image(media)
            faces = lm.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            crops.extend(align.crops(bgr, [f.landmarks for f in faces], size))
    else:
        with VideoSource(media) as source, Landmarker(LandmarkerOptions(max_faces=8)) as lm:
            for frame in source:
                faces = lm.detect(cv2.cvtColor(frame.bgr, cv2.COLOR_BGR2RGB), frame.time_s)
                crops.extend(align.crops(frame.bgr, [f.landmarks for f in faces], size))
                if len(crops) >= limit:
                    break
    if not crops:
        raise ExportError(f"no face found in {media} to check the export against")
    return np.stack(crops[:limit])


def _export(module, example, path: Path, input_name: str, outputs: tuple[str, ...], dynamic: dict,
            metadata: dict[str, str]) -> None:
    import onnx
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(path), input_names=[input_name], output_names=list(outputs),
                          dynamic_axes=dynamic, opset_version=17, dynamo=False)
    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def export_onnx(checkpoint: str | Path, out: str | Path, check_media: str | Path | None = None,
                atol: float = 1e-4) -> ExportReport:
    """Write ``out`` (student) and ``out.sequence.onnx`` (GRU, when the checkpoint has one)."""
    import torch

    from realtime_affect.faces import align
    from realtime_affect.models.backends.onnxruntime import OnnxRuntimeBackend
    from realtime_affect.models.checkpoint import load_checkpoint
    from realtime_affect.models.sequence import ServingSequence
    from realtime_affect.models.student import ServingStudent

    ckpt = load_checkpoint(checkpoint)
    card = ckpt.card
    out = Path(out)
    if out.suffix != ".onnx":
        raise ExportError(f"{out}: the output name must end in .onnx")
    if not out.parent.exists():
        raise ExportError(f"{out}: folder {out.parent} does not exist")
    media = Path(check_media) if check_media else DEFAULT_CHECK_MEDIA
    crops = face_crops(media, card.input_size)
    batch = align.to_input(crops, card.mean, card.std)
    student = ServingStudent(ckpt.student).eval()
    sequence = ServingSequence(ckpt.sequence).eval() if ckpt.sequence is not None else None
    diffs: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        tmp_student = Path(tmp) / out.name
        _export(student, torch.from_numpy(batch[:2]), tmp_student, "input", STUDENT_OUTPUTS,
                {"input": {0: "batch"}}, card_metadata(card, "student"))
        with torch.inference_mode():
            ref = [t.numpy() for t in student(torch.from_numpy(batch))]
        got = OnnxRuntimeBackend(tmp_student)(batch)
        for name, value in zip(STUDENT_OUTPUTS, ref):
            diffs[f"student.{name}"] = float(np.abs(got[name] - value).max())
        tmp_seq = None
        if sequence is not None:
            tmp_seq = sequence_path_for(tmp_student)
            feats = ref[0]
            windows = np.stack([np.resize(feats, (card.window, feats.shape[1])),
                                np.resize(feats[::-1], (card.window, feats.shape[1]))]).astype(np.float32)
            _export(sequence, torch.from_numpy(windows), tmp_seq, "features", SEQUENCE_OUTPUTS,
                    {"features": {0: "batch", 1: "steps"}}, card_metadata(card, "sequence"))
            with torch.inference_mode():
                ref_seq = [t.numpy() for t in sequence(torch.from_numpy(windows))]
            got_seq = OnnxRuntimeBackend(tmp_seq)(windows)
            for name, value in zip(SEQUENCE_OUTPUTS, ref_seq):
                diffs[f"sequence.{name}"] = float(np.abs(got_seq[name] - value).max())
        worst = max(diffs, key=diffs.get)
        if diffs[worst] > atol:
            raise ExportError(f"ONNX output {worst} differs from torch by {diffs[worst]:.2e} (> {atol:.0e}) "
                              f"on {len(crops)} real face crops; nothing written")
        tmp_student.replace(out)
        seq_out = None
        if tmp_seq is not None:
            seq_out = sequence_path_for(out)
            tmp_seq.replace(seq_out)
    log.info("exported %s (max difference to torch %.2e)", out, diffs[worst])
    return ExportReport(student_path=out, sequence_path=seq_out, max_abs_diff=diffs, crops=len(crops))


__all__ = ["ExportError", "ExportReport", "export_onnx", "face_crops", "BackendError"]
