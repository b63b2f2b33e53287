"""INT8 student for ONNX Runtime on CPUs: static quantization (QDQ, per-channel weights) calibrated on real
aligned face crops, checked against the float model before anything is written.

On the 2-core CPU this project is measured on (AVX-512 VNNI) the 0.4.0 default student ran in 0.86 ms instead
of 2.09 ms per face with one thread, and FER+ validation accuracy did not drop (0.8037 vs 0.8014); the 0.5.0
student scores 0.824 in INT8 and in float (``assets/DEFAULT_MODEL.md``, ``benchmarks/README.md``). The
sequence model (GRU) stays float: it costs 0.1 ms per window and is not conv-bound.

The weights keep to a 7-bit range (``reduce_range``). With the full int8 range, x86 CPUs without VNNI (AVX2 or
AVX-512F alone, e.g. AMD Zen 3) multiply uint8 x int8 pairs with saturating 16-bit adds, and the same file reads
differently there: the 0.8.0 student read FER+ validation 0.800 and the held-out CK+ subjects 0.896 on a Zen 3
CPU, against 0.808 / 0.944 in float; quantized again with 7-bit weights, 0.809 / 0.938 (docs/model_gate.md).
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from engines.export import ExportError, face_crops
from realtime_affect.models.backends.base import STUDENT_OUTPUTS
from realtime_affect.models.backends.onnxruntime import CARD_KEY, sequence_path_for

log = logging.getLogger(__name__)

#: Activation ranges from the 99.99th percentile of the calibration crops' activations (slightly better than
#: min/max on FER+ validation, 0.8037 vs 0.8017; both keep the float model's accuracy).
PERCENTILE = 99.99


@dataclass
class QuantizeReport:
    path: Path
    calibration_faces: int
    check_faces: int
    top_expression_agreement: float      # share of check faces whose top expression is the float model's
    max_abs_diff: dict[str, float]       # per output, on the check faces
    sequence_path: Path | None


def calibration_crops(sources: Sequence[str | Path], size: int, limit: int = 512) -> np.ndarray:
    """Aligned BGR crops (N, size, size, 3) for calibration: ``.npz`` files with an array ``crops`` (already
    aligned by ``realtime_affect.faces.align``, e.g. from a training set), or videos and images whose faces are
    found and aligned with the runtime's own code."""
    crops: list[np.ndarray] = []
    for source in sources:
        source = Path(source)
        if not source.exists():
            raise ExportError(f"calibration source {source} does not exist")
        if source.suffix == ".npz":
            with np.load(source) as data:
                if "crops" not in data:
                    raise ExportError(f"{source} has no 'crops' array (aligned BGR uint8 crops, N x S x S x 3)")
                part = data["crops"]
            if part.ndim != 4 or part.shape[1:] != (size, size, 3) or part.dtype != np.uint8:
                raise ExportError(f"{source}: crops are {part.shape} {part.dtype}; this model needs "
                                  f"N x {size} x {size} x 3 uint8")
            crops.extend(part)
        else:
            crops.extend(face_crops(source, size, limit=limit))
    if not crops:
        raise ExportError("no calibration faces found")
    chosen = np.stack(crops)
    if len(chosen) > limit:
        chosen = chosen[np.random.default_rng(0).choice(len(chosen), limit, replace=False)]
    return chosen


def quantize_student(model: str | Path, out: str | Path, calibration: np.ndarray,
                     check_media: str | Path | None = None, min_agreement: float = 0.95,
                     max_expression_diff: float = 0.15, reduce_range: bool = True) -> QuantizeReport:
    """Write ``out``: the INT8 student of the float ONNX ``model`` (its card marked ``precision: int8``),
    and copy its sequence model beside it. Refuses (writes nothing) when, on real face crops, the top
    expression agrees with the float model on fewer than ``min_agreement`` of the faces or an expression
    probability moves by more than ``max_expression_diff``. ``reduce_range`` keeps the weights to 7 bits, so the
    uint8 x int8 products cannot saturate on x86 CPUs without VNNI (AVX2, AVX-512F), where full-range weights
    read differently than on VNNI CPUs (see ``REDUCE_RANGE``)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from engines.export import DEFAULT_CHECK_MEDIA
    from realtime_affect.faces import align
    from realtime_affect.models.backends.onnxruntime import OnnxRuntimeBackend

    model, out = Path(model), Path(out)
    if out.suffix != ".onnx":
        raise ExportError(f"{out}: the output name must end in .onnx")
    if out.resolve() == model.resolve():
        raise ExportError(f"{out}: choose another name; the float model is never overwritten")
    if not out.parent.exists():
        raise ExportError(f"{out}: folder {out.parent} does not exist")
    float_model = OnnxRuntimeBackend(model)
    card = float_model.card
    if card.extra.get("precision") == "int8":
        raise ExportError(f"{model} is already quantized")
    input_name = "input"
    step = 16 if len(calibration) >= 16 else 1  # equal batches: the range collector stacks them
    usable = len(calibration) - len(calibration) % step
    batches = [align.to_input(calibration[i:i + step], card.mean, card.std) for i in range(0, usable, step)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self):
            batch = next(self._it, None)
            return None if batch is None else {input_name: batch}

    check = face_crops(Path(check_media) if check_media else DEFAULT_CHECK_MEDIA, card.input_size, limit=64)
    check_batch = align.to_input(check, card.mean, card.std)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / out.name
        quant_pre_process(str(model), str(prepared))
        # The pooled features, the neck and the heads stay float (a few thousand multiply-adds): quantized,
        # the probabilities came in steps of 1/255 and small ones read exactly 0, which the per-person baseline
        # works on in log space. Also a BatchNormalization left after the 1-d neck has no channel axis.
        graph = onnx.load(str(prepared)).graph
        keep_float = sorted(set(float_head_nodes(graph))
                            | {n.name for n in graph.node if n.op_type == "BatchNormalization"})
        with contextlib.redirect_stdout(io.StringIO()):  # its progress lines are not ours to print
            quantize_static(str(prepared), str(quantized), Reader(), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                            reduce_range=reduce_range,
                            calibrate_method=CalibrationMethod.Percentile,
                            extra_options={"CalibPercentile": PERCENTILE}, nodes_to_exclude=keep_float)
        card.extra = {**card.extra, "precision": "int8",
                      "quantization": f"static QDQ, per-channel int8 weights"
                                      f"{' (7-bit range)' if reduce_range else ''}, uint8 activations, ranges from "
                                      f"the {PERCENTILE}th percentile on {len(calibration)} aligned face crops"}
        write_with_card(quantized, quantized, card)
        ref = float_model(check_batch)
        got = OnnxRuntimeBackend(quantized)(check_batch)
        diffs = {name: float(np.abs(got[name] - ref[name]).max()) for name in STUDENT_OUTPUTS}
        agreement = float((got["expression"].argmax(1) == ref["expression"].argmax(1)).mean())
        if agreement < min_agreement or diffs["expression"] > max_expression_diff:
            raise ExportError(f"the INT8 model disagrees with the float one on {len(check)} real face crops (top "
                              f"expression agreement {agreement:.2f}, largest probability change "
                              f"{diffs['expression']:.3f}); nothing written. Calibrate on more, or more varied, faces")
        quantized.replace(out)
    sequence_out = None
    if card.has_sequence and sequence_path_for(model).is_file():  # float, with the same (int8-marked) card
        sequence_out = sequence_path_for(out)
        write_with_card(sequence_path_for(model), sequence_out, card)
    log.info("wrote %s (top expression agreement %.3f on %d faces)", out, agreement, len(check))
    return QuantizeReport(out, len(calibration), len(check), agreement, diffs, sequence_out)


POOL_OPS = ("GlobalAveragePool", "ReduceMean", "GlobalMaxPool")


def float_head_nodes(graph) -> list[str]:
    """Names of the nodes from the backbone's global pooling to the outputs (the pool included): everything
    that works on the pooled feature vector rather than on feature maps."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    pools = [n for n in graph.node if n.op_type in POOL_OPS]
    seen: dict[str, object] = {}
    todo = list(pools)
    while todo:
        node = todo.pop()
        if node.name in seen:
            continue
        seen[node.name] = node
        for out in node.output:
            todo.extend(consumers.get(out, []))
    return list(seen)


def write_with_card(src: Path, dst: Path, card) -> None:
    """Copy the ONNX file ``src`` to ``dst`` with ``card`` in its metadata (the role entry is kept)."""
    import onnx

    proto = onnx.load(str(src))
    props = {p.key: p for p in proto.metadata_props}
    if CARD_KEY not in props:
        entry = proto.metadata_props.add()
        entry.key = CARD_KEY
        props[CARD_KEY] = entry
    props[CARD_KEY].value = json.dumps(card.to_dict(), sort_keys=True)
    onnx.save(proto, str(dst))


__all__ = ["QuantizeReport", "calibration_crops", "quantize_student", "write_with_card", "PERCENTILE"]
