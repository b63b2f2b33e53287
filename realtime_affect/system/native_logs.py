"""Keep native libraries' start-up chatter (MediaPipe's glog/TFLite lines) off the user's terminal.

The lines are written by C++ straight to file descriptor 2, so Python's logging cannot catch them;
this redirects the descriptor for the duration of a block and re-logs what was written at DEBUG level.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from typing import Iterator

log = logging.getLogger(__name__)
_lock = threading.Lock()


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Redirect fd 2 to a temporary file inside the block; its text goes to the debug log."""
    if os.environ.get("REALTIME_AFFECT_NATIVE_LOGS"):
        yield
        return
    with _lock, tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError):
            pass
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            try:
                sys.stderr.flush()
            except (AttributeError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode(errors="replace").strip()
            if text:
                log.debug("native library output:\n%s", text)


class QuietTask:
    """Base for owners of a MediaPipe task: the first call and ``close()`` run with native logs quieted;
    closing twice is safe; usable as a context manager."""

    _task = None
    _first = True

    def _quiet_first(self, fn, *args):
        if self._first:
            with quiet_native_stderr():
                result = fn(*args)
            self._first = False
            return result
        return fn(*args)

    def close(self) -> None:
        if self._task is not None:
            with quiet_native_stderr():
                self._task.close()
            self._task = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
