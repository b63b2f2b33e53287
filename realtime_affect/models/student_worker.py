"""The helper process of ``student_process.py``: runs one ONNX student at idle CPU priority.

Started as ``python -m realtime_affect.models.student_worker MODEL.onnx THREADS`` (0: ONNX Runtime's default).
Protocol on stdin/stdout: each request is a header ``<QIII`` (sequence number, faces, height, width)
followed by the aligned uint8 BGR crops; each reply is ``<QQ`` (sequence number, length) followed by the
pickled outputs. The first reply (sequence 0) says whether the model loaded: ``{"ok": True}`` or
``{"error": message}``. End of stdin ends the process. Ctrl-C is left to the parent, which ends this process
by closing its stdin.
"""
from __future__ import annotations

import os
import pickle
import signal
import struct
import sys

REQUEST = struct.Struct("<QIII")
REPLY = struct.Struct("<QQ")


def lower_priority() -> None:
    """Idle CPU priority (Linux), else the lowest ``nice``: the caller's landmarker keeps its cores."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(19)
        except (AttributeError, OSError):
            pass


def read_exact(fd: int, size: int) -> bytes | None:
    """Exactly ``size`` bytes from ``fd``, or None at end of file."""
    parts, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def write_reply(fd: int, seq: int, payload: object) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    message = memoryview(REPLY.pack(seq, len(data)) + data)
    while message:
        message = message[os.write(fd, message):]


def serve(model_path: str, threads: int, fd_in: int, fd_out: int) -> None:
    import numpy as np

    from realtime_affect.faces.align import to_input
    from realtime_affect.models.backends.base import BackendError
    from realtime_affect.models.backends.onnxruntime import OnnxRuntimeBackend

    try:
        backend = OnnxRuntimeBackend(model_path, threads=threads or None)
    except BackendError as exc:
        write_reply(fd_out, 0, {"error": str(exc)})
        return
    card = backend.card
    write_reply(fd_out, 0, {"ok": True})
    while True:
        header = read_exact(fd_in, REQUEST.size)
        if header is None:
            return
        seq, n, h, w = REQUEST.unpack(header)
        data = read_exact(fd_in, n * h * w * 3)
        if data is None:
            return
        crops = np.frombuffer(data, dtype=np.uint8).reshape(n, h, w, 3)
        write_reply(fd_out, seq, backend(to_input(crops, card.mean, card.std)))


def main() -> None:
    """Serve until the parent closes our input (the process then ends with status 0)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_priority()
    try:
        serve(sys.argv[1], int(sys.argv[2]), sys.stdin.fileno(), sys.stdout.fileno())
    except BrokenPipeError:  # the parent went away mid-reply: nothing left to answer
        pass


if __name__ == "__main__":
    main()
