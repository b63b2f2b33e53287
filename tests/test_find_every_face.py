"""Small, distant and many faces: the full-range detector in front of the landmarker."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import build_multiscale_video, decode_frames, read_csv
from realtime_affect.cli import main
from realtime_affect.detection import crop_region, padded_crop, tiles
from realtime_affect.finder import dedupe
from realtime_affect.matching import iou_matrix
from realtime_affect.types import Face


@pytest.fixture(scope="module")
def multiscale(tmp_path_factory):
    return build_multiscale_video(tmp_path_factory.mktemp("ms") / "ms.mp4", frames=24)


def _by_frame(rows):
    frames: dict[int, list] = {}
    for r in rows:
        frames.setdefault(int(r["frame"]), []).append(r)
    return frames


def _tile_of(row, layout):
    cx, cy = float(row["x"]) + float(row["w"]) / 2, float(row["y"]) + float(row["h"]) / 2
    for i, (x, y, w, h) in enumerate(layout):
        if x <= cx < x + w and y <= cy < y + h:
            return i
    return None


@pytest.mark.slow
def test_every_face_of_a_1080p_multiscale_video_on_every_frame_with_stable_ids(tmp_path, tiny_model, multiscale):
    video, layout = multiscale
    out = tmp_path / "o.csv"
    assert main(["--video", str(video), "--csv", str(out), "--model", str(tiny_model), "--max-faces", "8",
                 "--no-display", "-q"]) == 0
    frames = _by_frame(read_csv(out))
    assert sorted(frames) == list(range(24))
    ids_per_tile: dict[int, set] = {}
    for index, rows in frames.items():
        tiles_hit = [_tile_of(r, layout) for r in rows]
        assert sorted(tiles_hit) == list(range(6)), f"frame {index}: faces in tiles {tiles_hit}"  # all, once each
        for r, t in zip(rows, tiles_hit):
            ids_per_tile.setdefault(t, set()).add(r["track_id"])
    assert all(len(ids) == 1 for ids in ids_per_tile.values()), ids_per_tile
    assert len({next(iter(ids)) for ids in ids_per_tile.values()}) == 6
    heights = sorted(float(r["h"]) for r in frames[10])
    assert heights[0] < 75  # the smallest face is found too


def test_still_composite_finds_every_face(tmp_path, tiny_model, multiscale):
    import cv2

    video, layout = multiscale
    still = tmp_path / "group.png"
    cv2.imwrite(str(still), decode_frames(video, 1)[0])
    out = tmp_path / "o.csv"
    assert main(["--images", str(still), "--csv", str(out), "--model", str(tiny_model), "--max-faces", "8",
                 "-q"]) == 0
    rows = read_csv(out)
    assert sorted(_tile_of(r, layout) for r in rows) == list(range(6))
    assert sorted(r["track_id"] for r in rows) == [str(i) for i in range(1, 7)]


def test_min_face_size_drops_the_small_faces(tmp_path, tiny_model, multiscale):
    video, layout = multiscale
    out = tmp_path / "o.csv"
    assert main(["--video", str(video), "--csv", str(out), "--model", str(tiny_model), "--max-faces", "8",
                 "--min-face-size", "100", "--no-display", "-q"]) == 0
    rows = read_csv(out)
    assert rows and all(float(r["h"]) >= 100 for r in rows)
    found = {_tile_of(r, layout) for r in rows}
    assert {0, 1} <= found and not found & {4, 5}  # the big faces stay, the two smallest go


def test_tiles_cover_large_frames_and_leave_small_ones_whole():
    assert tiles(640, 360) == [(0, 0, 640, 360)]
    regions = tiles(1920, 1080)
    assert regions[0] == (0, 0, 1920, 1080)
    covered = np.zeros((1080, 1920), bool)
    for x, y, w, h in regions[1:]:
        assert w == h == 768
        covered[y:y + h, x:x + w] = True
    assert covered.all()


def test_crops_at_the_border_are_padded():
    rgb = np.full((100, 100, 3), 200, np.uint8)
    x, y, side = crop_region(np.array([-10, 80, 30, 30], np.float32), 2.0, 100, 100)
    crop = padded_crop(rgb, x, y, side)
    assert crop.shape == (60, 60, 3) and (crop == 0).any() and (crop == 200).any()


def test_dedupe_keeps_one_of_two_overlapping_faces():
    def face(box):
        return Face(box=np.array(box, np.float32), landmarks=np.zeros((478, 3), np.float32))

    kept = dedupe([face([0, 0, 100, 100]), face([5, 5, 95, 95]), face([300, 0, 50, 50])])
    assert len(kept) == 2
    assert iou_matrix(kept[0].box[None], kept[1].box[None])[0, 0] == 0
