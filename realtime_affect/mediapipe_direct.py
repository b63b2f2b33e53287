"""Call a MediaPipe task's C functions from the caller's thread (leaf module: ctypes only).

MediaPipe's Python wrapper (mediapipe 1.2) hands every call to a one-thread executor and waits for it: two
thread switches per call, each needing Python's lock, which the models' thread often holds while the
landmarker waits. The tasks here are each used from one thread at a time, which is all that serialisation
guarantees, so calling the raw library directly is safe. ``attach`` returns None when this mediapipe keeps
its raw library elsewhere; callers then keep the wrapper's calls.
"""
from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)


class DirectCalls:
    """The raw ctypes library behind one task's dispatching wrapper."""

    def __init__(self, lib, to_exception) -> None:
        self._lib = lib
        self._to_exception = to_exception

    @classmethod
    def attach(cls, task, names: tuple[str, ...]) -> "DirectCalls | None":
        """Direct calls for ``task`` when every function in ``names`` has its signature registered, else None."""
        try:
            from mediapipe.tasks.python.core.mediapipe_c_utils import convert_to_exception

            lib = task._lib._lib
            if all(getattr(lib, name).argtypes for name in names) and lib.MpErrorFree.argtypes:
                return cls(lib, convert_to_exception)
        except (ImportError, AttributeError) as exc:
            log.debug("mediapipe's raw C library is not reachable (%s): calls go through its wrapper", exc)
        return None

    def status(self, name: str, *args) -> None:
        """Call a status-returning function (its error-message argument added last); raise MediaPipe's
        exception for a bad status, as its wrapper does."""
        error = ctypes.c_char_p()
        code = getattr(self._lib, name)(*args, ctypes.byref(error))
        try:
            exception = self._to_exception(code, error)
        finally:
            if error.value is not None:
                self._lib.MpErrorFree(error)
        if exception is not None:
            raise exception

    def plain(self, name: str, *args):
        """Call a function that returns no status (closing a result)."""
        return getattr(self._lib, name)(*args)
