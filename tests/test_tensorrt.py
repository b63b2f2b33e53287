"""TensorRT pieces that need no GPU (header, cache keys, profiles, calibration batches, error messages),
and, marked gpu, a real build-and-run that skips without TensorRT and CUDA."""
from __future__ import annotations

import numpy as np
import pytest

from engines.backends.base import BackendError
from engines.card import ModelCard
from engines.loader import open_model
from engines.tensorrt_build import (DeviceKey, EngineError, cache_path, calibration_batches, profile_shapes,
                                    read_engine_file, write_engine_file)


def test_engine_file_header_round_trip(tmp_path):
    card = ModelCard(name="x", window=16, feature_dim=64)
    path = tmp_path / "m.engine"
    write_engine_file(path, card, {"role": "student", "precision": "fp16"}, b"\x00\x01engine-bytes")
    card2, meta, blob = read_engine_file(path)
    assert card2 == card and meta == {"role": "student", "precision": "fp16"} and blob == b"\x00\x01engine-bytes"


def test_a_foreign_or_cut_engine_file_is_refused(tmp_path):
    other = tmp_path / "other.engine"
    other.write_bytes(b"plain TensorRT plan without our header")
    with pytest.raises(EngineError, match="not a realtime-affect TensorRT engine"):
        read_engine_file(other)
    good = tmp_path / "good.engine"
    write_engine_file(good, ModelCard(), {}, b"x" * 10)
    cut = tmp_path / "cut.engine"
    cut.write_bytes(good.read_bytes()[:20])
    with pytest.raises(EngineError, match="truncated"):
        read_engine_file(cut)


def test_cache_key_names_gpu_capability_and_version_and_follows_the_model_content(tmp_path):
    key = DeviceKey("NVIDIA H100 80GB HBM3", (9, 0), "10.4.0")
    assert key.slug() == "nvidia-h100-80gb-hbm3-sm90-trt10.4.0"
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"one")
    first = cache_path(tmp_path, onnx, key, "fp16", 16)
    assert first.parent.name == key.slug() and first.name.startswith("m-") and first.name.endswith("-fp16-b16.engine")
    onnx.write_bytes(b"two")
    assert cache_path(tmp_path, onnx, key, "fp16", 16) != first
    assert cache_path(tmp_path, onnx, DeviceKey("NVIDIA A10", (8, 6), "10.4.0"), "fp16", 16).parent != first.parent


def test_profiles_cover_one_to_max_faces_and_tracks():
    card = ModelCard(input_size=112, window=32, feature_dim=128)
    student = profile_shapes(card, "student", 16)["input"]
    assert student == ((1, 3, 112, 112), (4, 3, 112, 112), (16, 3, 112, 112))
    seq = profile_shapes(card, "sequence", 8)["features"]
    assert seq[0] == (1, 32, 128) and seq[2] == (8, 32, 128)
    with pytest.raises(ValueError):
        profile_shapes(card, "student", 0)


def test_calibration_batches_are_full_and_contiguous():
    crops = np.arange(10 * 3 * 2 * 2, dtype=np.float64).reshape(10, 3, 2, 2)
    batches = list(calibration_batches(crops, 4))
    assert [b.shape[0] for b in batches] == [4, 4]
    assert all(b.dtype == np.float32 and b.flags.c_contiguous for b in batches)
    np.testing.assert_array_equal(batches[1][0], crops[4])


def test_without_tensorrt_an_engine_file_gives_a_clear_error(tmp_path):
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    path = tmp_path / "m.engine"
    write_engine_file(path, ModelCard(), {}, b"x")
    with pytest.raises(BackendError, match="TensorRT is not installed"):
        open_model(path)


@pytest.mark.gpu
def test_tensorrt_engine_matches_onnxruntime(tmp_path, tiny_model):
    pytest.importorskip("tensorrt")
    pytest.importorskip("pycuda.driver")
    from engines.export import export_onnx
    from engines.tensorrt_build import build_engine

    onnx_path = export_onnx(tiny_model, tmp_path / "tiny.onnx").student_path
    engine = build_engine(onnx_path, tmp_path / "tiny.engine", fp16=False, max_batch=8)
    build_engine(tmp_path / "tiny.sequence.onnx", tmp_path / "tiny.sequence.engine", fp16=False, max_batch=8)
    x = np.random.default_rng(0).normal(size=(5, 3, 112, 112)).astype(np.float32)
    with open_model(engine) as trt_model, open_model(onnx_path) as ort_model:
        a, b = trt_model.student(x), ort_model.student(x)
        for name in b:
            np.testing.assert_allclose(a[name], b[name], atol=1e-3)
