"""Optional extras: what each one enables, and the one-line error (with the ``pip install`` to run) when a command
or an option needs one that is not installed. The runtime alone (``pip install realtime-affect``) analyses
cameras, files, streams and images with the bundled ONNX model and writes every output format.

Leaf module: the standard library only; ``find_spec`` looks a package up without importing it.
"""
from __future__ import annotations

import importlib.util

from realtime_affect.errors import SetupError

#: extra -> (the packages it adds, checked by import name; what it enables)
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "torch": (("torch",), "the torch backend (--backend torch, .pt models)"),
    "train": (("torch", "torchvision", "onnx"), "affect-train, affect-engine export/quantize/bench"),
    "serve": (("starlette", "uvicorn", "websockets"), "affect-serve and affect-live --serve"),
    "ray": (("ray",), "affect-batch --ray"),
    "tensorrt": (("tensorrt", "pycuda"), "TensorRT engines (affect-engine build, --backend tensorrt)"),
}


class MissingExtra(SetupError):
    """A command or option needs an optional extra that is not installed (exit 2, one line with the fix)."""


def installed(module: str) -> bool:
    """True when ``module`` can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(extra: str) -> list[str]:
    """The packages of ``extra`` that are not installed."""
    return [name for name in EXTRAS[extra][0] if not installed(name)]


def require_extra(extra: str, what: str | None = None) -> None:
    """Raise ``MissingExtra`` naming ``what`` needs it and the ``pip install`` that adds it."""
    lacking = missing(extra)
    if lacking:
        raise MissingExtra(f"{what or EXTRAS[extra][1]} needs the [{extra}] extra ({', '.join(lacking)} not "
                           f"installed): pip install 'realtime-affect[{extra}]'")
