"""A text output written line by line and flushed after every write, so a stopped run keeps every line
already written; errors are ``SinkError`` with the path and what went wrong."""
from __future__ import annotations

from pathlib import Path
from typing import TextIO

from realtime_affect.sinks import SinkError, SinkWriteError, prepare_output


class TextSink:
    """Base of the CSV and JSON-lines outputs: ``_write(text)`` appends and flushes."""

    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        self.path = prepare_output(path, overwrite)
        try:
            self._fh: TextIO | None = open(self.path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot write ({exc.strerror})") from exc

    def _write(self, text: str) -> None:
        if self._fh is None:
            raise SinkError(f"{self.path}: sink is closed")
        try:
            self._fh.write(text)
            self._fh.flush()
        except OSError as exc:
            raise SinkWriteError(f"{self.path}: write failed ({exc.strerror})") from exc

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError as exc:
                raise SinkWriteError(f"{self.path}: write failed ({exc.strerror})") from exc
            finally:
                self._fh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
