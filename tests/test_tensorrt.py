"""TensorRT pieces that need no GPU (header, cache keys, profiles, calibration batches, error messages),
and, marked gpu, a real build-and-run that skips without TensorRT and CUDA."""
from __future__ import annotations

import numpy as np
import pytest

from realtime_affect.models.backends.base import BackendError
from realtime_affect.models.card import ModelCard
from realtime_affect.models.loader import open_model
from realtime_affect.models.backends.tensorrt import max_batch_of_profile, numpy_dtype
from engines.tensorrt_build import (CALIBRATION_BATCH, calibration_batches, calibration_cache_path,
                                    calibration_profile_shapes, profile_shapes)
from realtime_affect.models.tensorrt_engines import (DeviceKey, EngineError, cache_path, check_tensorrt_version,
                                                     find_cached_engine, read_engine_file, write_engine_file)


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


def test_only_tensorrt_10_is_accepted_with_a_clear_message():
    check_tensorrt_version("10.0.1")
    check_tensorrt_version("10.16.0.72")
    for version in ("11.0.0", "8.6.1", "9.3.0"):
        with pytest.raises(EngineError, match=r"not supported.*tensorrt>=10,<11"):
            check_tensorrt_version(version)


def test_cached_engine_is_found_whatever_max_batch_it_was_built_with(tmp_path):
    key = DeviceKey("NVIDIA H200", (9, 0), "10.16.0")
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"model")
    assert find_cached_engine(tmp_path / "cache", onnx, key) is None
    b8 = cache_path(tmp_path / "cache", onnx, key, "fp16", 8)
    b8.parent.mkdir(parents=True)
    b8.write_bytes(b"x")
    assert find_cached_engine(tmp_path / "cache", onnx, key) == b8  # not only --max-batch 16
    b32 = cache_path(tmp_path / "cache", onnx, key, "fp16", 32)
    b32.write_bytes(b"x")
    assert find_cached_engine(tmp_path / "cache", onnx, key) == b32  # the largest batch wins
    fp32 = cache_path(tmp_path / "cache", onnx, key, "fp32", 64)
    fp32.write_bytes(b"x")
    assert find_cached_engine(tmp_path / "cache", onnx, key) == b32  # fp16 before fp32
    assert find_cached_engine(tmp_path / "cache", onnx, key, ("fp32",)) == fp32
    onnx.write_bytes(b"another model")
    assert find_cached_engine(tmp_path / "cache", onnx, key) is None  # by content


def test_calibration_profile_is_fixed_at_the_calibrator_batch():
    card = ModelCard(input_size=64, window=32, feature_dim=128)
    lo, opt, hi = calibration_profile_shapes(card, "student", CALIBRATION_BATCH)["input"]
    assert lo == opt == hi == (CALIBRATION_BATCH, 3, 64, 64)
    batches = list(calibration_batches(np.zeros((20, 3, 64, 64), np.float32), CALIBRATION_BATCH))
    assert all(b.shape == opt for b in batches)  # every calibration face is used at the profile's shape
    assert opt[0] != profile_shapes(card, "student", 16)["input"][1][0]  # the serving opt (4) would not fit


def test_calibration_cache_follows_the_calibration_data(tmp_path):
    a = np.zeros((8, 3, 4, 4), np.float32)
    b = a + 1
    out = tmp_path / "m-fp16-b16.engine"
    assert calibration_cache_path(out, a) == calibration_cache_path(out, a.copy())
    assert calibration_cache_path(out, a) != calibration_cache_path(out, b)
    assert calibration_cache_path(out, a).parent == tmp_path and calibration_cache_path(out, a).suffix == ".calib"


def test_engine_dtypes_map_to_numpy_and_the_batch_limit_comes_from_the_profile():
    assert numpy_dtype("DataType.FLOAT") == np.float32 and numpy_dtype("DataType.HALF") == np.float16
    assert numpy_dtype("DataType.INT8") == np.int8
    with pytest.raises(EngineError, match="BF16"):
        numpy_dtype("DataType.BF16")
    assert max_batch_of_profile(((1, 3, 64, 64), (4, 3, 64, 64), (12, 3, 64, 64))) == 12


def _tensorrt_and_cuda():
    pytest.importorskip("tensorrt")
    pytest.importorskip("pycuda.driver")


def _engines(tmp_path, tiny_model, precision: str, max_batch: int = 16):
    from engines.export import export_onnx
    from engines.tensorrt_build import build_engine

    onnx_path = export_onnx(tiny_model, tmp_path / "tiny.onnx").student_path
    crops = np.random.default_rng(1).normal(size=(24, 3, 112, 112)).astype(np.float32) if precision == "int8" else None
    engine = build_engine(onnx_path, tmp_path / f"tiny-{precision}.engine", fp16=precision != "fp32",
                          int8_crops=crops, max_batch=max_batch)
    build_engine(tmp_path / "tiny.sequence.onnx", tmp_path / f"tiny-{precision}.sequence.engine",
                 fp16=precision != "fp32", max_batch=max_batch)
    return onnx_path, engine


@pytest.mark.gpu
@pytest.mark.parametrize("precision, tol", [("fp32", 1e-3), ("fp16", 3e-2), ("int8", 0.15)])
def test_tensorrt_engines_match_onnxruntime_at_several_batch_sizes_in_a_row(tmp_path, tiny_model, precision, tol):
    _tensorrt_and_cuda()
    onnx_path, engine = _engines(tmp_path, tiny_model, precision)
    rng = np.random.default_rng(0)
    with open_model(engine) as trt_model, open_model(onnx_path) as ort_model:
        assert trt_model.student.max_batch == 16
        for n in (1, 5, 16, 17):  # 17: split over the profile's limit
            x = rng.normal(size=(n, 3, 112, 112)).astype(np.float32)
            a, b = trt_model.student(x), ort_model.student(x)
            for name in b:
                assert a[name].shape == b[name].shape and a[name].dtype == np.float32
                np.testing.assert_allclose(a[name], b[name], atol=tol)
            w = rng.normal(size=(n, 32, 16)).astype(np.float32)
            a, b = trt_model.sequence(w), ort_model.sequence(w)
            for name in b:
                np.testing.assert_allclose(a[name], b[name], atol=tol)


@pytest.mark.gpu
def test_cached_engine_with_a_non_default_max_batch_is_used(tmp_path, tiny_model, monkeypatch):
    _tensorrt_and_cuda()
    from engines.export import export_onnx
    from engines.tensorrt_build import build_engine
    from realtime_affect.models.tensorrt_engines import default_cache_dir, device_key

    monkeypatch.setenv("REALTIME_AFFECT_CACHE", str(tmp_path / "cache"))
    onnx_path = export_onnx(tiny_model, tmp_path / "tiny.onnx").student_path
    key = device_key()
    out = cache_path(default_cache_dir(), onnx_path, key, "fp32", 8)
    out.parent.mkdir(parents=True)
    build_engine(onnx_path, out, fp16=False, max_batch=8)
    build_engine(tmp_path / "tiny.sequence.onnx", out.with_name(out.stem + ".sequence.engine"), fp16=False,
                 max_batch=8)
    with open_model(onnx_path, device="cuda") as model:
        assert model.student.name == "tensorrt" and model.student.max_batch == 8
