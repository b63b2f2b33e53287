"""The torch CUDA path (fp16, CUDA graphs): bucket logic everywhere, the GPU parts marked gpu."""
from __future__ import annotations

import numpy as np
import pytest

from realtime_affect.models.backends.base import BackendError
from realtime_affect.models.backends.torch import batch_bucket, load_torch_model


def test_batch_buckets_are_powers_of_two_capped_at_the_maximum():
    assert [batch_bucket(n, 16) for n in (1, 2, 3, 5, 9, 16)] == [1, 2, 4, 8, 16, 16]
    assert batch_bucket(20, 16) == 20  # beyond every graph: run eagerly
    with pytest.raises(ValueError):
        batch_bucket(0, 16)


def test_graph_buckets_cover_every_batch_up_to_the_maximum():
    from realtime_affect.models.backends.torch import _CudaGraphs

    graphs = _CudaGraphs(module=None, tail=(3, 8, 8), dtype=None, device="cuda", max_batch=16)
    assert graphs.buckets() == [1, 2, 4, 8, 16]
    assert _CudaGraphs(None, (3, 8, 8), None, "cuda", 12).buckets() == [1, 2, 4, 8, 12]


def test_fp16_and_graphs_are_refused_on_the_cpu(tiny_model):
    with pytest.raises(BackendError, match="need --device cuda"):
        load_torch_model(tiny_model, device="cpu", half=True)


def _cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch


@pytest.mark.gpu
@pytest.mark.parametrize("half, graphs", [(False, False), (True, False), (False, True), (True, True)])
def test_cuda_outputs_match_the_cpu(tiny_model, half, graphs):
    _cuda()
    cpu = load_torch_model(tiny_model)
    gpu = load_torch_model(tiny_model, device="cuda", half=half, cuda_graphs=graphs)
    rng = np.random.default_rng(0)
    tol = 2e-2 if half else 1e-4
    for n in (1, 3, 16):
        x = rng.normal(size=(n, 3, 112, 112)).astype(np.float32)
        a, b = gpu.student(x), cpu.student(x)
        for name in b:
            np.testing.assert_allclose(a[name], b[name], atol=tol)
        w = rng.normal(size=(n, 32, 16)).astype(np.float32)
        a, b = gpu.sequence(w), cpu.sequence(w)
        for name in b:
            np.testing.assert_allclose(a[name], b[name], atol=tol)


@pytest.mark.gpu
def test_graphs_are_captured_at_start_up_and_replay_new_data(tiny_model):
    torch = _cuda()
    gpu = load_torch_model(tiny_model, device="cuda", cuda_graphs=True)
    assert sorted(gpu.student._graphs.graphs) == [1, 2, 4, 8, 16]  # before any frame
    cpu = load_torch_model(tiny_model)
    rng = np.random.default_rng(3)
    for _ in range(2):  # the second replay of the same bucket sees the new data
        x = rng.normal(size=(3, 3, 112, 112)).astype(np.float32)
        np.testing.assert_allclose(gpu.student(x)["expression"], cpu.student(x)["expression"], atol=1e-4)
    if torch.cuda.device_count() > 1:
        other = load_torch_model(tiny_model, device="cuda:1", cuda_graphs=True)
        x = rng.normal(size=(2, 3, 112, 112)).astype(np.float32)
        np.testing.assert_allclose(other.student(x)["expression"], cpu.student(x)["expression"], atol=1e-4)
