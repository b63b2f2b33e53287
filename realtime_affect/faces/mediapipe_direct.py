"""Call a MediaPipe task's C functions from the caller's thread (leaf module: ctypes; mediapipe and numpy
are imported only when attaching to a task).

MediaPipe's Python wrapper (mediapipe 1.2) hands every call to a one-thread executor and waits for it: two
thread switches per call, each needing Python's lock, which the models' thread often holds while the
landmarker waits. The tasks here are each used from one thread at a time, which is all that serialisation
guarantees, so calling the raw library directly is safe. ``attach`` returns None when this mediapipe keeps
its raw library elsewhere; callers then keep the wrapper's calls.

Calls that take microseconds (making an image, closing a result) keep Python's lock: ctypes releases it
around every foreign call, and a thread that gives it up while another thread runs Python code waits up
to the switch interval (5 ms) to get it back. In the pipeline that wait came before and after every
landmarker call, on the critical path (benchmarks/README.md).
"""
from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

#: Functions called with Python's lock held: each returns within microseconds.
_QUICK = ("MpImageCreateFromUint8Data", "MpImageFree", "MpErrorFree")


class DirectCalls:
    """The raw ctypes library behind one task's dispatching wrapper."""

    def __init__(self, lib, to_exception, held: dict | None = None) -> None:
        self._lib = lib
        self._to_exception = to_exception
        self._held = held or {}  # name -> the same function through ctypes.PyDLL (keeps the lock)

    @classmethod
    def attach(cls, task, names: tuple[str, ...]) -> "DirectCalls | None":
        """Direct calls for ``task`` when every function in ``names`` has its signature registered, else None."""
        try:
            from mediapipe.tasks.python.core.mediapipe_c_utils import convert_to_exception

            lib = task._lib._lib
            if all(getattr(lib, name).argtypes for name in names) and lib.MpErrorFree.argtypes:
                return cls(lib, convert_to_exception, _held_library(lib, names))
        except (ImportError, AttributeError) as exc:
            log.debug("mediapipe's raw C library is not reachable (%s): calls go through its wrapper", exc)
        return None

    def status(self, name: str, *args) -> None:
        """Call a status-returning function (its error-message argument added last), without Python's lock;
        raise MediaPipe's exception for a bad status, as its wrapper does."""
        self._check(getattr(self._lib, name), args)

    def quick(self, name: str, *args):
        """Call a function that returns no status and takes microseconds (closing a result)."""
        function = self._held.get(name) or getattr(self._lib, name)
        return function(*args)

    def image(self, rgb, image_format: int) -> "NativeImage | None":
        """``rgb`` (uint8, H x W x 3, C-contiguous) copied into a MediaPipe image, or None for any other array or
        when this mediapipe's image functions are not the expected ones (use ``mediapipe.Image`` then)."""
        if "MpImageCreateFromUint8Data" not in self._held or "MpImageFree" not in self._held:
            return None
        if str(rgb.dtype) != "uint8" or rgb.ndim != 3 or rgb.shape[2] != 3 or not rgb.flags["C_CONTIGUOUS"]:
            return None
        return NativeImage(self, rgb, image_format)

    def _check(self, function, args) -> None:
        error = ctypes.c_char_p()
        code = function(*args, ctypes.byref(error))
        try:
            exception = self._to_exception(code, error)
        finally:
            if error.value is not None:
                self.quick("MpErrorFree", error)
        if exception is not None:
            raise exception


class NativeImage:
    """An image in MediaPipe's C layer, made and freed with Python's lock held; passes as ``mediapipe.Image``
    to the direct calls (they read only ``_image_ptr``)."""

    def __init__(self, calls: DirectCalls, rgb, image_format: int) -> None:
        self._calls = calls
        self._image_ptr = ctypes.c_void_p()
        height, width = rgb.shape[:2]
        calls._check(calls._held["MpImageCreateFromUint8Data"],
                     (int(image_format), width, height, rgb.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)),
                      rgb.size, ctypes.byref(self._image_ptr)))

    def close(self) -> None:
        if self._image_ptr:
            self._calls.quick("MpImageFree", self._image_ptr)
            self._image_ptr = ctypes.c_void_p()

    def __del__(self) -> None:
        self.close()


def _held_library(lib, names: tuple[str, ...]) -> dict:
    """The quick functions (and the task's result-closing ones) through ``ctypes.PyDLL`` on the same loaded
    library, with mediapipe's signatures; a function whose signature is not registered is left out."""
    held = {}
    try:
        import mediapipe as mp
        import numpy as np

        mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((1, 1, 3), np.uint8))  # registers its signatures
        library = ctypes.PyDLL(lib._name, handle=lib._handle)
        for name in _QUICK + tuple(n for n in names if "Close" in n):
            source, target = getattr(lib, name), getattr(library, name)
            if source.argtypes is not None:
                target.argtypes, target.restype = source.argtypes, source.restype
                held[name] = target
    except (ImportError, AttributeError, OSError) as exc:
        log.debug("mediapipe's quick C functions are not reachable (%s): they release Python's lock", exc)
    return held
