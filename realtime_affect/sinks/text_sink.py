"""A text output written whole lines at a time: every frame's text goes out in one unbuffered write, so a
stopped or killed run keeps every line already written, and a write that fails part way (disk full) is cut
back to the last whole line before the error is raised; errors are ``SinkError`` with the path and the cause."""
from __future__ import annotations

import os
from pathlib import Path

from realtime_affect.sinks import SinkError, SinkWriteError, prepare_output


class TextSink:
    """Base of the CSV and JSON-lines outputs: ``_write(text)`` appends whole lines or nothing."""

    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        self.path = prepare_output(path, overwrite)
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot write ({exc.strerror})") from exc
        self._whole = 0  # bytes written that end on a whole line

    def _write(self, text: str) -> None:
        if self._fd is None:
            raise SinkError(f"{self.path}: sink is closed")
        data = memoryview(text.encode("utf-8"))
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])
        except OSError as exc:
            self._cut_back()
            raise SinkWriteError(f"{self.path}: write failed ({exc.strerror}); "
                                 "the file ends on its last whole line") from exc
        self._whole += done

    def _cut_back(self) -> None:
        """Remove a part-written line (a full disk accepts part of a write): truncating frees space, so it
        works on a full disk; a device that refuses it (``/dev/full``, a read-only mount) held nothing."""
        try:
            os.ftruncate(self._fd, self._whole)
        except OSError:
            pass

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError as exc:
                raise SinkWriteError(f"{self.path}: write failed ({exc.strerror})") from exc

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
