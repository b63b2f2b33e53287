"""affect-engine quantize: an INT8 student calibrated on real aligned faces, checked against the float one."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from engines.export import export_onnx, face_crops
from realtime_affect.models.loader import open_model
from helpers import PEXELS, SINGLE_FACE, read_csv
from realtime_affect.cli import main
from realtime_affect.labels import EXPRESSION_COLUMNS

DEFAULT_PT = ROOT / "assets" / "default_model.pt"
DEFAULT_ONNX = ROOT / "assets" / "default_model.onnx"  # shipped quantized


def engine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engines.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


@pytest.fixture(scope="module")
def float_model(tmp_path_factory):
    return export_onnx(DEFAULT_PT, tmp_path_factory.mktemp("float") / "default.onnx").student_path


@pytest.fixture(scope="module")
def int8_model(float_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("int8")
    calib = folder / "calib.npz"
    np.savez(calib, crops=face_crops(PEXELS, 64, limit=160))  # aligned by the runtime's own code
    out = folder / "default.int8.onnx"
    run = engine("quantize", str(float_model), "--calib", str(calib), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "calibrated on 160 faces" in run.stdout and run.stderr == ""
    return out


@pytest.mark.slow
def test_int8_student_keeps_the_float_readings_on_a_clip_it_was_not_calibrated_on(int8_model, float_model, tmp_path):
    with open_model(int8_model) as q, open_model(float_model) as f:
        assert q.card.extra["precision"] == "int8" and "precision" not in f.card.extra
        assert q.sequence is not None and q.card.window == f.card.window
    csvs = {}
    for name, model in (("float", float_model), ("int8", int8_model)):
        out = tmp_path / f"{name}.csv"
        assert main(["--video", str(SINGLE_FACE), "--csv", str(out), "--model", str(model), "--no-temporal", "-q"]) == 0
        csvs[name] = read_csv(out)
    a, b = csvs["float"], csvs["int8"]
    assert len(a) == len(b) > 50
    pa = np.array([[float(r[c]) for c in EXPRESSION_COLUMNS] for r in a])
    pb = np.array([[float(r[c]) for c in EXPRESSION_COLUMNS] for r in b])
    assert (pa.argmax(1) == pb.argmax(1)).mean() >= 0.95
    assert np.abs(pa - pb).max() < 0.1
    # the heads stay float: probabilities sum to 1 and small ones are not rounded to 0 (or to steps of 1/255)
    with open_model(int8_model) as q:
        from realtime_affect.faces.align import to_input

        out = q.student(to_input(np.stack(face_crops(SINGLE_FACE, 64, limit=8)), q.card.mean, q.card.std))
    probs = out["expression"]
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)
    assert (probs > 0).all() and not np.allclose(probs * 255, np.round(probs * 255), atol=1e-3)


def test_int8_weights_keep_to_7_bits_so_cpus_without_vnni_read_them_alike(int8_model):
    """uint8 x int8 products saturate on x86 CPUs without VNNI (AVX2, AVX-512F) when the weights use the full
    int8 range: the 0.8.0 file read 4 points lower on posed faces there. 7-bit weights cannot saturate."""
    import onnx
    from onnx import numpy_helper

    with open_model(int8_model) as q:
        assert "7-bit range" in q.card.extra["quantization"]
    graph = onnx.load(str(int8_model)).graph
    weights = [numpy_helper.to_array(t) for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(weights) >= 5  # the convolutions' weights are quantized
    assert max(int(np.abs(w.astype(np.int16)).max()) for w in weights) <= 64


def test_quantize_refuses_what_it_cannot_do_in_one_line(float_model, tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, faces=np.zeros((4, 64, 64, 3), np.uint8))
    for args, says in (
        (["quantize", str(float_model), "--calib", str(bad), "--out", str(tmp_path / "x.onnx")], "no 'crops' array"),
        (["quantize", str(float_model), "--calib", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "y.onnx")],
         "does not exist"),
        (["quantize", str(DEFAULT_ONNX), "--calib", str(PEXELS), "--out", str(tmp_path / "z.onnx")], "already quantized"),
        (["quantize", str(float_model), "--calib", str(PEXELS), "--out", str(float_model)], "never overwritten"),
    ):
        run = engine(*args)
        assert run.returncode == 2, run.stderr
        assert says in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.onnx"))
    with open_model(float_model) as model:  # the float model it was asked to overwrite is untouched
        assert "precision" not in model.card.extra
