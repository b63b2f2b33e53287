"""The student in a helper process at idle CPU priority, for file annotation on the CPU.

On a 2-core machine MediaPipe's landmarker (the floor of the product) keeps about 1.1 cores busy on its
own threads, and anything else that runs in this process at normal priority takes cores and Python's lock
from it. The student is the largest part of that work. In a helper process at idle priority
(``student_worker.py``) it runs only on cycles the landmarker leaves free: one face at 640x360, 1.09x the
floor vs 1.16x with the student in this process (median of 6 interleaved pairs, benchmarks/README.md).

The helper runs the same ONNX file with the same ONNX Runtime settings, so its outputs are the ones this
process would compute. Whenever it has not answered in time (it starts in the background; other programs
may keep every core busy, and an idle-priority process then waits), the batch is run here instead; after
``max_misses`` misses in a row the helper is stopped and the rest of the run stays here. Results never
depend on which process computed them; only the speed does.
"""
from __future__ import annotations

import logging
import math
import os
import pickle
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from realtime_affect.models.student_worker import REPLY, REQUEST, read_exact

log = logging.getLogger(__name__)

#: Largest message the helper's input pipe is asked to hold (Linux allows an unprivileged 1 MiB): a
#: request is written whole without waiting on the helper, so a starved helper can never block us.
PIPE_BYTES = 1 << 20


@dataclass
class StudentProcessOptions:
    #: A reply later than this counts as a miss and the batch is run in this process.
    timeout_s: float = 0.05
    #: Misses in a row after which the helper is stopped for the rest of the run.
    max_misses: int = 3


class StudentProcess:
    """``(crops uint8 (N, H, W, 3), fallback) -> outputs`` computed by the helper process, or by ``fallback``
    (the same model in this process) when the helper is not ready, too late or gone."""

    def __init__(self, model_path: str | Path, threads: int | None,
                 options: StudentProcessOptions | None = None) -> None:
        self.options = options or StudentProcessOptions()
        self.answered = 0  # batches the helper computed
        self._seq = 0
        self._misses = 0
        self._ready = False
        root = str(Path(__file__).resolve().parents[2])  # the folder that holds the realtime_affect package
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self._proc: subprocess.Popen | None = subprocess.Popen(
            [sys.executable, "-m", "realtime_affect.models.student_worker", str(model_path), str(int(threads or 0))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0, env=env,
            close_fds=True)
        self._capacity = _grow_pipe(self._proc.stdin.fileno())
        self._replies = select.poll()
        self._replies.register(self._proc.stdout.fileno(), select.POLLIN)

    @property
    def running(self) -> bool:
        return self._proc is not None

    def __call__(self, crops: np.ndarray, fallback: Callable[[np.ndarray], dict]) -> dict[str, np.ndarray]:
        if self._proc is not None and (self._ready or self._check_ready()):
            out = self._ask(np.ascontiguousarray(crops, dtype=np.uint8))
            if out is not None:
                self.answered += 1
                return out
        return fallback(crops)

    def _check_ready(self) -> bool:
        """True once the helper has said it loaded the model (never waits)."""
        reply = self._receive(0.0)
        if reply is None:
            return False
        seq, payload = reply
        if seq == 0 and payload.get("ok"):
            self._ready = True
            return True
        self._stop(f"the student's helper process could not start ({payload.get('error', payload)}); "
                   f"running it in this process")
        return False

    def _ask(self, crops: np.ndarray) -> dict[str, np.ndarray] | None:
        n, h, w, _ = crops.shape
        message = REQUEST.pack(self._seq + 1, n, h, w) + crops.tobytes()
        if len(message) > self._capacity // 4:
            return None  # too many faces to hand over without waiting (even behind late requests): run here
        self._seq += 1
        try:
            os.write(self._proc.stdin.fileno(), message)
        except OSError:
            self._stop("the student's helper process ended; running it in this process")
            return None
        deadline = time.monotonic() + self.options.timeout_s
        while True:
            reply = self._receive(max(0.0, deadline - time.monotonic()))
            if reply is None:
                break
            seq, payload = reply
            if seq == self._seq:
                self._misses = 0
                return payload
            # a late reply to an earlier batch (already run here): skip it
        if self._proc is not None:
            self._misses += 1
            if self._misses >= self.options.max_misses:
                self._stop(f"the student's helper process answered late {self._misses} times in a row (the "
                           f"cores are busy); running it in this process for the rest of the run")
        return None

    def _receive(self, timeout_s: float) -> tuple[int, dict] | None:
        """One reply if one arrives within ``timeout_s``, else None (also when the helper is gone)."""
        if self._proc is None:
            return None
        fd = self._proc.stdout.fileno()
        if not self._replies.poll(math.ceil(timeout_s * 1000)):
            return None
        header = read_exact(fd, REPLY.size)
        seq, size = REPLY.unpack(header) if header is not None else (0, 0)
        data = read_exact(fd, size) if header is not None else None
        if data is None:
            self._stop("the student's helper process ended; running it in this process")
            return None
        return seq, pickle.loads(data)

    def _stop(self, why: str | None = None) -> None:
        if self._proc is None:
            return
        if why:
            log.info(why)
        proc, self._proc = self._proc, None
        try:
            proc.stdin.close()  # end of input: the helper returns
        except OSError:
            pass
        try:
            proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> "StudentProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _grow_pipe(fd: int) -> int:
    """The pipe's capacity after asking for ``PIPE_BYTES`` (Linux); 64 KiB where it cannot be asked."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    except (ImportError, AttributeError, OSError):
        return 1 << 16


def wanted(model, options) -> bool:
    """Whether a file run should use the helper: asked for (``options.student_process``), or by default when
    the student is an ONNX Runtime model on the CPU, on a POSIX system with at least two usable cores."""
    from realtime_affect.models.backends.onnxruntime import OnnxRuntimeBackend
    from realtime_affect.system.cores import usable_cores

    if options.student_process is False:
        return False
    student = model.student
    possible = (isinstance(student, OnnxRuntimeBackend) and not str(student.device).startswith("cuda")
                and os.name == "posix")
    if options.student_process and not possible:
        log.info("the student's helper process runs ONNX Runtime models on the CPU only; running it here")
    return possible and (bool(options.student_process) or usable_cores() >= 2)


def start_for(model, options) -> StudentProcess | None:
    """A started helper for this run when ``wanted`` (and the system lets us start one), else None."""
    if not wanted(model, options):
        return None
    try:
        return StudentProcess(model.student.path, model.student.threads)
    except OSError as exc:
        log.info("the student's helper process could not be started (%s); running it in this process", exc)
        return None
