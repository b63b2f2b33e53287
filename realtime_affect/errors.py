"""One error family for everything a user can cause or mend: what went wrong, in one line, and its exit code.

Every error the runtime raises on purpose derives from ``AffectError`` through one of four kinds, and each kind
maps once to the exit code a command returns (``realtime_affect.console.report_error``):

- ``InputError`` (2): an input, a flag, an option, a configuration or labels file is wrong or unreadable;
- ``ModelError`` (2): a model file, its card, an engine or a backend cannot be used;
- ``SetupError`` (2): the machine or the install lacks something (an extra, a display, a GPU, a cluster);
- ``OutputError`` (2): an output cannot be created (exists, is an input, its folder is missing);
  ``WriteError`` (74, ``EX_IOERR``) when writing it fails once the run has started (disk full, read-only,
  no permission): every other output is closed on a whole row, and the message names the file.

Leaf module: imports nothing but the standard library.
"""
from __future__ import annotations

import errno

#: Exit codes every command shares.
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_WRITE, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 74, 130, 143

#: errno values that are an output's fault (the user mends them: free space, permissions, another folder).
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EROFS, errno.EDQUOT, errno.EFBIG,
                           errno.EIO, errno.ENOENT})
#: errno values only a write gives (so an ``OSError`` with one is a write error wherever it came from).
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG})


class AffectError(Exception):
    """Base of every error the runtime raises for the user to read; ``exit_code`` is what a command returns."""

    exit_code = EXIT_USAGE
    kind = "error"


class InputError(AffectError):
    """An input, a flag, an option or a file of settings or labels is wrong or cannot be read."""

    kind = "input"


class ModelError(AffectError):
    """A model file, its card, an engine or a backend cannot be used."""

    kind = "model"


class SetupError(AffectError):
    """The machine or the install lacks something: an optional extra, a display, a GPU, a reachable cluster."""

    kind = "setup"


class OutputError(AffectError):
    """An output cannot be created: it exists, it is one of the inputs, or its folder is missing."""

    kind = "output"


class WriteError(OutputError):
    """Writing an output failed after the run started (disk full, read-only file system, no permission)."""

    exit_code = EXIT_WRITE


class OptionsError(InputError, ValueError):
    """An analysis option is out of range (raised when the options are made or validated); ``option`` names it
    (``finder.max_faces``) and ``wanted`` says what it must be, so a command can name its own flag instead."""

    def __init__(self, message: str, option: str | None = None, wanted: str | None = None) -> None:
        super().__init__(message)
        self.option, self.wanted = option, wanted


def is_output_fault(exc: BaseException) -> bool:
    """True for an ``OSError`` that is the output's fault (``OUTPUT_ERRNOS``)."""
    return isinstance(exc, OSError) and exc.errno in OUTPUT_ERRNOS
