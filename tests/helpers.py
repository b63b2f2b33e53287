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

    from realtime_affect.models.card import ModelCard
    from realtime_affect.models.checkpoint import save_checkpoint
    from realtime_affect.models.sequence import SequenceNet
    from realtime_affect.models.student import StudentNet

    torch.manual_seed(seed)
    student = StudentNet(arch="tiny", feature_dim=16).eval()
    seq = SequenceNet(feature_dim=16, hidden=16).eval() if sequence else None
    card = ModelCard(name="tiny-test", feature_dim=16, student_arch="tiny", window=window)
    return save_checkpoint(path, card, student, seq)


def read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def stream_times(path: Path) -> list[float]:
    """Frame times (s, from PTS, relative to the first frame) as PyAV decodes them."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = [f.pts for f in container.decode(stream)]
        base = stream.time_base
    return [float((p - pts[0]) * base) for p in pts]


def decode_frames(path: Path, limit: int | None = None, size: tuple[int, int] | None = None):
    """BGR frames of a video (optionally resized to (w, h))."""
    import av
    import cv2

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            img = frame.to_ndarray(format="bgr24")
            if size is not None:
                img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            frames.append(img)
            if limit is not None and len(frames) >= limit:
                break
    return frames


def write_video(path: Path, frames, fps: int = 30, codec: str = "libx264", faststart: bool = False) -> Path:
    """Encode BGR frames with PyAV."""
    import av

    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_timed_video(path: Path, frames, ticks, time_base, codec: str = "libx264", pix_fmt: str = "yuv420p",
                      options: dict | None = None) -> Path:
    """Encode BGR frames at the given presentation times (``ticks`` in ``time_base`` units): irregular,
    duplicated once the container rounds them, as phones and screen recorders write them."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=30)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = pix_fmt
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if options:
            stream.options = options
        for img, t in zip(frames, ticks):
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = int(t), time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def build_grid_video(path: Path, frames: int = 72) -> tuple[Path, dict[str, tuple[int, int]]]:
    """A 1280x720 2x2 grid: Pexels (top left), single_face (top right), face_noface (bottom left,
    face for its first 72 frames), no_face (bottom right). Returns the path and quadrant origins."""
    import numpy as np

    size = (640, 360)
    tiles = [decode_frames(p, frames, size) for p in (PEXELS, SINGLE_FACE, FACE_NOFACE, NO_FACE)]
    n = min(len(t) for t in tiles)
    grid = []
    for i in range(n):
        top = np.hstack([tiles[0][i], tiles[1][i]])
        bottom = np.hstack([tiles[2][i], tiles[3][i]])
        grid.append(np.vstack([top, bottom]))
    origins = {"pexels": (0, 0), "single_face": (640, 0), "face_noface": (0, 360), "no_face": (640, 360)}
    return write_video(path, grid, fps=30), origins


def build_multiscale_video(path: Path, frames: int = 24) -> tuple[Path, list[tuple[int, int, int, int]]]:
    """A 1920x1080 video with 6 faces at several scales (tiles of the two face clips, face heights from
    about 260 down to about 60 px). Returns the path and each tile's (x, y, w, h)."""
    import cv2
    import numpy as np

    pexels = decode_frames(PEXELS, frames)
    single = decode_frames(SINGLE_FACE, frames)
    layout = [  # (source, scale, x, y)
        (pexels, 1.0, 40, 40), (single, 1.0, 1240, 40), (pexels, 0.5, 760, 120),
        (single, 0.5, 80, 600), (pexels, 0.3, 900, 700), (single, 0.25, 1500, 800),
    ]
    tiles = []
    out = []
    for i in range(frames):
        canvas = np.full((1080, 1920, 3), 40, np.uint8)
        for src, scale, x, y in layout:
            img = src[i]
            w, h = int(img.shape[1] * scale), int(img.shape[0] * scale)
            canvas[y:y + h, x:x + w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            if i == 0:
                tiles.append((x, y, w, h))
        out.append(canvas)
    return write_video(path, out, fps=24), tiles


def read_xwd(path: Path):
    """An ``xwd -root`` screenshot as a BGR array: rows of ``bytes_per_line``, ``bits_per_pixel`` 24 or 32
    (Xvfb at depth 24 writes 3 bytes a pixel, least significant byte first: B, G, R)."""
    import struct

    import numpy as np

    data = Path(path).read_bytes()
    h = struct.unpack(">25I", data[:100])
    header, width, height, bits, per_line, colours = h[0], h[4], h[5], h[11], h[12], h[19]
    start, n = header + colours * 12, bits // 8
    rows = np.frombuffer(data[start:start + per_line * height], np.uint8).reshape(height, per_line)
    return rows[:, :width * n].reshape(height, width, n)[..., :3]


def free_port() -> int:
    """A TCP port free on loopback now (for a server a test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csv_rows_so_far(csv: Path) -> int:
    """Data rows a CSV being written holds now (0 before it exists)."""
    try:
        return max(0, csv.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0
