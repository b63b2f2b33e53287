"""Shared test helpers: tiny models written as real checkpoints, small media built on the fly."""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
PEXELS = DATA / "WolfgangLanger_Pexels.mp4"
SINGLE_FACE = DATA / "single_face.mp4"
FACE_NOFACE = DATA / "face_noface.mov"
NO_FACE = DATA / "no_face.mp4"
SINGLE_JPG = DATA / "single_face.jpg"
CLIPS = (PEXELS, SINGLE_FACE, FACE_NOFACE, NO_FACE)


def write_tiny_checkpoint(path: Path, sequence: bool = True, seed: int = 0, window: int = 32) -> Path:
    """A randomly initialised tiny student (+ GRU) saved as a real checkpoint with its card."""
    import torch

    from engines.card import ModelCard
    from realtime_affect.models.checkpoint import save_checkpoint
    from realtime_affect.models.sequence import SequenceNet
    from realtime_affect.models.student import StudentNet

    torch.manual_seed(seed)
    student = StudentNet(arch="tiny", feature_dim=16).eval()
    seq = SequenceNet(feature_dim=16, hidden=16).eval() if sequence else None
    card = ModelCard(name="tiny-test", feature_dim=16, student_arch="tiny", window=window)
    return save_checkpoint(path, card, student, seq)
