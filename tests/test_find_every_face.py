"""Small, distant and many faces: the full-range detector in front of the landmarker."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import build_multiscale_video, decode_frames, read_csv

from realtime_affect.cli import main
from realtime_affect.faces.detection import crop_region, padded_crop, tiles
from realtime_affect.faces.finder import dedupe
from realtime_affect.faces.matching import iou_matrix
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


def _landmarker_fails(monkeypatch):
    """Stand-in for a face the landmarker cannot fit (profile, heavy occlusion): it finds nothing."""
    from realtime_affect.faces.detection import CropLandmarker
    from realtime_affect.faces.landmarker import Landmarker

    monkeypatch.setattr(Landmarker, "detect", lambda self, rgb, time_s=0.0: [])
    monkeypatch.setattr(CropLandmarker, "landmark", lambda self, rgb, box, score=1.0: None)


def test_face_the_landmarker_cannot_fit_is_aligned_from_the_detector_and_flagged(tmp_path, monkeypatch):
    """The default model reads the face aligned from the detector's keypoints as it reads the fitted face."""
    from helpers import SINGLE_JPG

    fitted_csv, unfitted_csv = tmp_path / "fitted.csv", tmp_path / "unfitted.csv"
    assert main(["--images", str(SINGLE_JPG), "--csv", str(fitted_csv), "--no-display", "-q"]) == 0
    _landmarker_fails(monkeypatch)
    assert main(["--images", str(SINGLE_JPG), "--csv", str(unfitted_csv), "--no-display", "-q"]) == 0
    (fitted,), (unfitted,) = read_csv(fitted_csv), read_csv(unfitted_csv)
    assert fitted["fitted"] == "1" and unfitted["fitted"] == "0"
    assert float(unfitted["score"]) > 0.5  # the detector's confidence
    box_a = np.array([[float(fitted[k]) for k in "xywh"]])
    box_b = np.array([[float(unfitted[k]) for k in "xywh"]])
    assert iou_matrix(box_a, box_b)[0, 0] > 0.4  # the same face
    assert unfitted["expression"] == fitted["expression"] == "happiness"
    assert float(unfitted["expr_happiness"]) > 0.6


def test_keypoint_alignment_matches_the_mesh_alignment():
    """Crops made from the detector's five points and from the mesh's are nearly the same picture."""
    import cv2
    from helpers import SINGLE_JPG

    from realtime_affect.faces import align
    from realtime_affect.faces.detection import FullRangeDetector, face_from_detection
    from realtime_affect.faces.landmarker import Landmarker

    bgr = cv2.imread(str(SINGLE_JPG))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    with FullRangeDetector() as det, Landmarker(video=False) as lm:
        (d,) = det.detect(rgb)
        (mesh,) = lm.detect(rgb)
    face = face_from_detection(d)
    assert face is not None and not face.fitted and face.landmarks.shape == (5, 3)
    a, b = (align.crops(bgr, [lms], 64)[0].astype(np.float32) for lms in (mesh.landmarks, face.landmarks))
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.8
    spread = np.linalg.norm(align.five_points(mesh.landmarks) - align.five_points(face.landmarks), axis=1)
    assert spread.max() < 0.12 * float(mesh.box[2])  # each point within 12% of the face width


def test_detector_face_without_keypoints_or_with_keep_unfitted_off_is_left_out(monkeypatch):
    import cv2
    from helpers import SINGLE_JPG

    from realtime_affect.faces.detection import Detection, face_from_detection
    from realtime_affect.faces.finder import FaceFinder, FinderOptions

    assert face_from_detection(Detection(np.array([0, 0, 10, 10], np.float32), 0.9)) is None
    _landmarker_fails(monkeypatch)
    rgb = cv2.cvtColor(cv2.imread(str(SINGLE_JPG)), cv2.COLOR_BGR2RGB)
    with FaceFinder(FinderOptions(keep_unfitted=False), video=False) as finder:
        assert finder.detect(rgb) == []
    with FaceFinder(FinderOptions(), video=False) as finder:
        (face,) = finder.detect(rgb)
        assert not face.fitted


def test_video_face_the_landmarker_cannot_fit_is_followed_on_every_frame(tmp_path, monkeypatch, tiny_model):
    from helpers import SINGLE_FACE

    _landmarker_fails(monkeypatch)
    out = tmp_path / "o.csv"
    assert main(["--video", str(SINGLE_FACE), "--csv", str(out), "--model", str(tiny_model), "--no-display",
                 "-q"]) == 0
    rows = read_csv(out)
    assert {r["fitted"] for r in rows} == {"0"} and {r["track_id"] for r in rows} == {"1"}
    assert len({r["frame"] for r in rows}) >= 70  # 72 frames: followed between sweeps, not only on them


@pytest.mark.slow
def test_live_mode_sweeps_in_the_background_and_still_finds_every_face(multiscale):
    """Camera mode: no frame waits for a full-range sweep; its faces join a frame or two later."""
    import cv2

    from realtime_affect.faces.finder import FaceFinder, FinderOptions

    video, layout = multiscale
    frames = decode_frames(video)
    counts = []
    with FaceFinder(FinderOptions(max_faces=8, background_sweeps=True), video=True) as finder:
        for i, bgr in enumerate(frames):
            counts.append(len(finder.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i / 30.0)))
        assert finder.sweeps >= 1
    assert counts[0] < 6  # the first frame does not wait for the sweep...
    assert counts[-8:] == [6] * 8  # ...whose faces are then followed on every frame


def _small_face_arrives(frames: int = 32, arrives: int = 8) -> list[np.ndarray]:
    """1280x720 RGB frames: one near face throughout, and a distant one (about 40 px) from frame ``arrives``
    on, which only the full-range sweeps find."""
    import cv2
    from helpers import PEXELS, SINGLE_FACE

    near, far = decode_frames(PEXELS, frames), decode_frames(SINGLE_FACE, frames)
    out = []
    for i in range(frames):
        canvas = np.full((720, 1280, 3), 40, np.uint8)
        canvas[20:380, 20:660] = near[i]
        if i >= arrives:
            small = cv2.resize(far[i], (160, 90), interpolation=cv2.INTER_AREA)
            canvas[500:590, 900:1060] = small
        out.append(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    return out


def test_file_sweeps_in_the_background_merge_exactly_their_lag_later_however_slow(monkeypatch):
    """Files: a sweep after the first runs on idle-priority threads and joins exactly ``sweep_lag`` frames later,
    so the faces found never depend on how fast the sweep was."""
    import time

    from realtime_affect.faces.detection import FullRangeDetector
    from realtime_affect.faces.finder import FaceFinder, FinderOptions

    frames = _small_face_arrives()

    def first_with_two(lag: int, idle: bool = True) -> int:
        options = FinderOptions(max_faces=4, sweep_every=20, sweep_lag=lag, idle_sweeps=idle)
        with FaceFinder(options, video=True) as finder:
            counts = [len(finder.detect(rgb, i / 24.0)) for i, rgb in enumerate(frames)]
        assert counts[0] == 1 and counts[-1] == 2, counts
        return counts.index(2)

    assert first_with_two(0) == 20  # the sweep due on frame 20 finds the distant face
    assert first_with_two(6) == 26  # started on frame 20, merged on frame 26
    assert first_with_two(6, idle=False) == 26  # the same at normal priority (batch workers, one core)
    detect = FullRangeDetector.detect

    def slow(self, rgb):
        time.sleep(0.3)  # a sweep far slower than 6 frames: frame 26 waits for it
        return detect(self, rgb)

    monkeypatch.setattr(FullRangeDetector, "detect", slow)
    assert first_with_two(6) == 26


def test_file_sweeps_run_at_idle_priority_on_two_cores_and_merge_at_the_same_frame_everywhere(monkeypatch):
    import realtime_affect.system.cores as cores
    from realtime_affect.analysis import session
    from realtime_affect.analysis.options import AnalyzerOptions, FinderOptions
    from realtime_affect.batch.job import JobOptions

    monkeypatch.setattr(cores, "usable_cores", lambda: 2)
    assert session.idle_sweeps(AnalyzerOptions()) is True
    assert session.idle_sweeps(AnalyzerOptions(finder=FinderOptions(idle_sweeps=False))) is False
    monkeypatch.setattr(cores, "usable_cores", lambda: 1)
    assert session.idle_sweeps(AnalyzerOptions()) is False  # one core: idle threads would only run when we wait
    assert JobOptions().analyzer_options().finder.idle_sweeps is False  # batch workers share the cores
    assert session.SWEEP_LAG == 6  # the merge frame never depends on the machine: same rows everywhere


def test_a_drawn_face_the_landmarker_cannot_fit_needs_a_high_detector_score():
    """Prints, posters and drawings the full-range detector half-believes (score 0.5-0.75) are not faces
    unless the landmarker fits them; the same images with the rule off do report them."""
    import sys

    import cv2

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from false_faces import drawn_faces

    from realtime_affect.faces.finder import FaceFinder, FinderOptions

    rng = np.random.default_rng(0)
    images = [cv2.cvtColor(drawn_faces(rng), cv2.COLOR_BGR2RGB) for _ in range(12)]
    with FaceFinder(FinderOptions(unfitted_min_score=0.0), video=False) as finder:
        before = [f for img in images for f in finder.detect(img) if not f.fitted]
    with FaceFinder(FinderOptions(), video=False) as finder:
        after = [f for img in images for f in finder.detect(img) if not f.fitted]
    assert sum(f.score < 0.75 for f in before) >= 3  # what the rule is for
    assert all(f.score >= 0.75 for f in after)
    assert len(after) < len(before)
