"""PyTorch backend: runs the nn.Modules from a checkpoint on the CPU or a CUDA device.

On CUDA it can run in fp16 and replay CUDA graphs: one graph per batch-size bucket (1, 2, 4, ... up to
``max_batch``), all captured when the backend is created (so no live frame pays for a capture), on the
backend's own device, sharing one memory pool, with preallocated device buffers and pinned host staging:
a frame costs one copy in, one graph replay and one copy out.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from realtime_affect.models.backends.base import SEQUENCE_OUTPUTS, STUDENT_OUTPUTS, AffectModel, Backend, BackendError
from realtime_affect.models.card import ModelCard


def batch_bucket(n: int, max_batch: int) -> int:
    """The smallest power of two >= n (capped at max_batch): the graph that serves a batch of n."""
    if n < 1:
        raise ValueError("batch must hold at least one item")
    bucket = 1
    while bucket < n:
        bucket *= 2
    return min(bucket, max_batch) if n <= max_batch else n


class _CudaGraphs:
    """Captured graphs per batch bucket for a module with one input and a tuple of outputs."""

    def __init__(self, module, tail: tuple[int, ...], dtype, device, max_batch: int) -> None:
        import torch

        self.torch, self.module, self.tail, self.dtype, self.device = torch, module, tail, dtype, device
        self.max_batch = max_batch
        self.graphs: dict[int, tuple] = {}
        self.pool = None

    def buckets(self) -> list[int]:
        """Every batch size a graph serves: 1, 2, 4, ... up to ``max_batch``."""
        return sorted({batch_bucket(n, self.max_batch) for n in range(1, self.max_batch + 1)})

    def warm_up(self) -> None:
        """Capture every bucket's graph now (start-up), largest first so the shared pool is sized once."""
        for bucket in sorted(self.buckets(), reverse=True):
            if bucket not in self.graphs:
                self.graphs[bucket] = self._capture(bucket)

    def _capture(self, bucket: int):
        torch = self.torch
        with torch.cuda.device(self.device):
            if self.pool is None:
                self.pool = torch.cuda.graph_pool_handle()
            static_in = torch.zeros((bucket,) + self.tail, dtype=self.dtype, device=self.device)
            stream = torch.cuda.Stream(device=self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream), torch.inference_mode():
                for _ in range(3):  # warm-up outside the graph (cuDNN autotuning, allocations)
                    self.module(static_in)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.inference_mode(), torch.cuda.graph(graph, pool=self.pool):
                static_out = self.module(static_in)
        host_in = torch.empty((bucket,) + self.tail, dtype=torch.float32, pin_memory=True)
        host_out = [torch.empty(o.shape, dtype=torch.float32, pin_memory=True) for o in static_out]
        return graph, static_in, static_out, host_in, host_out

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        torch = self.torch
        n = batch.shape[0]
        bucket = batch_bucket(n, self.max_batch)
        if bucket > self.max_batch:  # larger than any graph: run eagerly
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self.device, self.dtype)
                return [t.float().cpu().numpy() for t in self.module(x)]
        if bucket not in self.graphs:
            self.graphs[bucket] = self._capture(bucket)
        graph, static_in, static_out, host_in, host_out = self.graphs[bucket]
        host_in[:n].copy_(torch.from_numpy(np.ascontiguousarray(batch, np.float32)))
        if n < bucket:
            host_in[n:].zero_()
        with torch.cuda.device(self.device):
            static_in.copy_(host_in, non_blocking=True)
            graph.replay()
            for h, o in zip(host_out, static_out):
                h.copy_(o, non_blocking=True)
            torch.cuda.current_stream(self.device).synchronize()
        return [h[:n].numpy().copy() for h in host_out]


class TorchBackend(Backend):
    """Wraps a serving module (tuple outputs in a fixed order) as a Backend."""

    name = "torch"

    def __init__(self, module, card: ModelCard, outputs: tuple[str, ...], device: str = "cpu",
                 half: bool = False, cuda_graphs: bool = False, max_batch: int = 16,
                 input_tail: tuple[int, ...] | None = None) -> None:
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu")
        if (half or cuda_graphs) and not device.startswith("cuda"):
            raise BackendError("fp16 and CUDA graphs need --device cuda")
        self._torch = torch
        self.device = torch.device(device)
        self.dtype = torch.float16 if half else torch.float32
        self.module = module.to(self.device, self.dtype).eval()
        self.card = card
        self.outputs = outputs
        self._graphs = None
        if cuda_graphs:
            if input_tail is None:
                raise BackendError("CUDA graphs need the input shape")
            self._graphs = _CudaGraphs(self.module, input_tail, self.dtype, self.device, max_batch)
            self._graphs.warm_up()

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        if self._graphs is not None:
            return dict(zip(self.outputs, self._graphs(batch)))
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device, self.dtype)
            out = self.module(x)
        return {name: t.float().cpu().numpy() for name, t in zip(self.outputs, out)}


def load_torch_model(path: str | Path, device: str = "cpu", half: bool = False, cuda_graphs: bool = False,
                     max_batch: int = 16) -> AffectModel:
    """Open a ``.pt`` checkpoint as an AffectModel served by torch (fp16 / CUDA graphs on CUDA only)."""
    from realtime_affect.system.extras import require_extra

    require_extra("torch", f"{Path(path).name} is a torch checkpoint: the torch backend")
    from realtime_affect.models.checkpoint import load_checkpoint
    from realtime_affect.models.sequence import ServingSequence
    from realtime_affect.models.student import ServingStudent

    ckpt = load_checkpoint(path)
    card = ckpt.card
    s = card.input_size
    student = TorchBackend(ServingStudent(ckpt.student), card, STUDENT_OUTPUTS, device, half, cuda_graphs,
                           max_batch, (3, s, s))
    sequence = None
    if ckpt.sequence is not None:
        sequence = TorchBackend(ServingSequence(ckpt.sequence), card, SEQUENCE_OUTPUTS, device, half, cuda_graphs,
                                max_batch, (card.window, card.feature_dim))
    return AffectModel(card=card, student=student, sequence=sequence, source=str(path))
