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
    "default_model.pt": "b80cfaf18a371719c620476c6086e2aa8278c8b723d703a84cd6b86b760f1258",
    "default_model.onnx": "c865e5102607310313b425259792c02840a8179e9fae8fa2dded850e86565367",
    "default_model.sequence.onnx": "a56b911ccf9a38e5c640284792d74aafd5d9105bc37d1d5832329be964e3eb2a",
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
