"""Bundled model files: where they are and whether they are intact (sha256 checked at load)."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"

#: Known files and their sha256 (see assets/LICENSES.md for provenance and licences).
CHECKSUMS: dict[str, str] = {
    "face_landmarker.task": "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    "face_detection_full_range_sparse.tflite":
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    # the bundled default model (scripts/build_default_model.sh; assets/DEFAULT_MODEL.md)
    "default_model.pt": "84c6f9625a3c9dfaa021252964d792a6c1d37c22ca4b79c3a4038e832f998a55",
    "default_model.onnx": "e269b45005a30c58a516180d905904cffeb8e23926cb56968708a2c276ebcbcc",
    "default_model.sequence.onnx": "9525dc6b472c25e78941f2e98cbd86939e333f29ef7b256eb690e79400bf101a",
}


class AssetError(RuntimeError):
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
        raise AssetError(f"bundled model file {path} is missing; reinstall realtime-affect from a full checkout")
    expected = CHECKSUMS.get(name)
    if expected is not None:
        actual = sha256_file(path)
        if actual != expected:
            raise AssetError(f"bundled model file {path} is damaged (sha256 {actual[:12]}..., expected "
                             f"{expected[:12]}...); restore it from the repository")
    return path
