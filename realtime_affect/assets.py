"""Bundled model files: where they are and whether they are intact (sha256 checked at load)."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from realtime_affect.errors import SetupError


def _assets_dir() -> Path:
    """Installed from a wheel: the package's ``_assets``; from a checkout (editable): the repository's ``assets``."""
    here = Path(__file__).resolve().parent
    packaged = here / "_assets"
    return packaged if packaged.is_dir() else here.parent / "assets"


ASSETS_DIR = _assets_dir()

#: Known files and their sha256 (see assets/LICENSES.md for provenance and licences).
CHECKSUMS: dict[str, str] = {
    "face_landmarker.task": "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    "face_detection_full_range_sparse.tflite":
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    # the bundled default model (scripts/build_default_model.sh; assets/DEFAULT_MODEL.md)
    "default_model.pt": "53ac74e07b7be90405599f5e4a2bb0aef6cd4fac572483664f1f8d2bb83d6cae",
    "default_model.onnx": "7d91294e325e041709a6487bbe39177b0e40e20e8813cb59b588f9c7496a5da6",
    "default_model.sequence.onnx": "713127d07ee07f0e3581b91afcc669bf1ed6648a0def3818aa75023741037046",
}


class AssetError(SetupError, RuntimeError):
    """A bundled file is missing or damaged."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=None)
def asset_path(name: str) -> Path:
    """Path of a bundled asset after checking its sha256 (once per process)."""
    path = ASSETS_DIR / name
    if not path.is_file():
        raise AssetError(f"bundled model file {path} is missing; reinstall realtime-affect (pip install --force-reinstall "
                         "realtime-affect)")
    expected = CHECKSUMS.get(name)
    if expected is not None:
        actual = sha256_file(path)
        if actual != expected:
            raise AssetError(f"bundled model file {path} is damaged (sha256 {actual[:12]}..., expected "
                             f"{expected[:12]}...); restore it from the repository")
    return path
