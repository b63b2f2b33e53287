"""ONNX export round trip, the ONNX Runtime backend, and affect-engine's CLI."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from realtime_affect.models.backends.base import BackendError
from engines.export import ExportError, export_onnx
from realtime_affect.models.loader import open_model
from helpers import SINGLE_FACE, read_csv
from realtime_affect.cli import main
from realtime_affect.labels import ACTION_UNITS, EXPRESSION_COLUMNS


@pytest.fixture(scope="module")
def onnx_model(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    report = export_onnx(tiny_model, out)
    assert report.sequence_path is not None and report.sequence_path.exists()
    assert max(report.max_abs_diff.values()) < 1e-4 and report.crops > 0
    return out


def test_onnx_model_carries_the_card_and_matches_torch(onnx_model, tiny_model):
    with open_model(onnx_model) as ort_model, open_model(tiny_model) as torch_model:
        assert ort_model.backend_name == "onnxruntime"
        assert ort_model.card.to_dict() == torch_model.card.to_dict()
        x = np.random.default_rng(3).normal(size=(5, 3, 112, 112)).astype(np.float32)
        a, b = ort_model.student(x), torch_model.student(x)
        for name in a:
            np.testing.assert_allclose(a[name], b[name], atol=1e-4)
        w = np.random.default_rng(4).normal(size=(3, 32, 16)).astype(np.float32)
        a, b = ort_model.sequence(w), torch_model.sequence(w)
        for name in a:
            np.testing.assert_allclose(a[name], b[name], atol=1e-4)


def test_csv_from_onnxruntime_matches_torch(onnx_model, tiny_model, tmp_path):
    outs = {}
    for backend, model in (("torch", tiny_model), ("onnxruntime", onnx_model)):
        out = tmp_path / f"{backend}.csv"
        assert main(["--video", str(SINGLE_FACE), "--csv", str(out), "--model", str(model), "--backend", backend,
                     "-q"]) == 0
        outs[backend] = read_csv(out)
    a, b = outs["torch"], outs["onnxruntime"]
    assert len(a) == len(b) == 72
    cols = list(EXPRESSION_COLUMNS) + list(ACTION_UNITS) + ["valence", "arousal"]
    va = np.array([[float(r[c]) for c in cols] for r in a])
    vb = np.array([[float(r[c]) for c in cols] for r in b])
    assert np.abs(va - vb).max() < 1e-3
    assert [r["track_id"] for r in a] == [r["track_id"] for r in b]


def test_missing_sequence_file_is_named(onnx_model, tmp_path):
    import shutil

    lonely = tmp_path / "lonely.onnx"
    shutil.copy(onnx_model, lonely)
    with pytest.raises(BackendError, match="lonely.sequence.onnx"):
        open_model(lonely)


def test_a_torch_checkpoint_cannot_be_forced_onto_onnxruntime(tiny_model):
    with pytest.raises(BackendError, match="export it first"):
        open_model(tiny_model, backend="onnxruntime")


def test_export_refuses_a_clip_without_faces(tiny_model, tmp_path):
    from helpers import NO_FACE

    with pytest.raises(ExportError, match="no face"):
        export_onnx(tiny_model, tmp_path / "x.onnx", check_media=NO_FACE)
    assert not (tmp_path / "x.onnx").exists()


def test_engine_cli_bench_prints_both_backends_and_their_ratio(tiny_model):
    proc = subprocess.run([sys.executable, "-m", "engines.cli", "bench", str(tiny_model), "--repeat", "5",
                           "--batches", "1,4"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "onnxruntime  student" in proc.stdout and "torch        sequence" in proc.stdout
    assert "ratio onnxruntime/torch student batch 4" in proc.stdout


def test_engine_build_without_tensorrt_says_what_is_missing(onnx_model):
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    proc = subprocess.run([sys.executable, "-m", "engines.cli", "build", str(onnx_model), "--fp16"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "TensorRT is not installed" in proc.stderr and "Traceback" not in proc.stderr


def test_auto_prefers_the_onnx_export_beside_a_checkpoint_on_the_cpu(tiny_model, tmp_path):
    import shutil

    ckpt = tmp_path / "m.pt"
    shutil.copy(tiny_model, ckpt)
    with open_model(ckpt) as model:
        assert model.backend_name == "torch"  # nothing exported yet
    export_onnx(ckpt, tmp_path / "m.onnx")
    with open_model(ckpt) as model:
        assert model.backend_name == "onnxruntime"
    with open_model(ckpt, backend="torch") as model:
        assert model.backend_name == "torch"
