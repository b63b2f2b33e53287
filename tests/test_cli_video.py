"""End-to-end: affect-live on the real clips, as a user runs it."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import (CLIPS, FACE_NOFACE, NO_FACE, PEXELS, SINGLE_FACE, build_grid_video, read_csv,
                     stream_times)
from realtime_affect.labels import ACTION_UNITS, CSV_COLUMNS, EXPRESSION_COLUMNS
from realtime_affect.cli import main


def _annotate(tmp_path, clip, model, *extra):
    out = tmp_path / f"{clip.stem}.csv"
    code = main(["--video", str(clip), "--csv", str(out), "--no-display", "--model", str(model), "-q", *extra])
    assert code == 0
    return out, read_csv(out)


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.name)
def test_every_clip_gives_rows_only_for_faces_with_stream_times(tmp_path, tiny_model, clip):
    out, rows = _annotate(tmp_path, clip, tiny_model)
    header = out.read_text().splitlines()[0].split(",")
    assert tuple(header[: len(CSV_COLUMNS)]) == CSV_COLUMNS
    times = stream_times(clip)
    if clip == NO_FACE:
        assert rows == []
        return
    frames = [int(r["frame"]) for r in rows]
    assert frames == sorted(frames) and len(set(frames)) == len(frames)  # one face, one row per frame
    for r in rows:  # time_s is the stream's own time for that frame
        assert float(r["time_s"]) == pytest.approx(times[int(r["frame"])], abs=1e-5)
    # one track id per continuous face
    assert {r["track_id"] for r in rows} == {"1"}
    for r in rows:
        probs = np.array([float(r[c]) for c in EXPRESSION_COLUMNS])
        aus = np.array([float(r[c]) for c in ACTION_UNITS])
        assert probs.sum() == pytest.approx(1.0, abs=1e-3) and (probs >= 0).all()
        assert ((aus >= 0) & (aus <= 1)).all()
        assert -1 <= float(r["valence"]) <= 1 and -1 <= float(r["arousal"]) <= 1
        assert r["expression"] == EXPRESSION_COLUMNS[int(probs.argmax())][5:]
    if clip in (PEXELS, SINGLE_FACE):  # a face in every frame
        assert frames == list(range(len(times)))
    if clip == FACE_NOFACE:  # the face, then a cartoon that must not become a track
        assert 60 <= len(rows) <= 80 and frames == list(range(len(rows)))


def test_single_face_box_is_in_pixels_of_the_frame(tmp_path, tiny_model):
    _, rows = _annotate(tmp_path, SINGLE_FACE, tiny_model)
    for r in rows:
        x, y, w, h = (float(r[k]) for k in "xywh")
        assert 0 <= x and 0 <= y and x + w <= 640.5 and y + h <= 360.5 and 60 < w < 400 and 60 < h < 360


def test_without_a_sequence_model_rows_are_per_frame_student_outputs(tmp_path, tiny_student_only):
    _, rows = _annotate(tmp_path, SINGLE_FACE, tiny_student_only)
    assert len(rows) == 72 and {r["temporal"] for r in rows} == {"0"}


def test_the_sequence_model_makes_the_reported_values(tmp_path, tiny_model):
    """With a GRU in the model every row comes from it, and differs from the per-frame student."""
    _, temporal = _annotate(tmp_path, SINGLE_FACE, tiny_model)
    (tmp_path / "b").mkdir()
    _, frame_only = _annotate(tmp_path / "b", SINGLE_FACE, tiny_model, "--no-temporal")
    assert {r["temporal"] for r in temporal} == {"1"} and {r["temporal"] for r in frame_only} == {"0"}
    assert len(temporal) == len(frame_only) == 72
    a = np.array([[float(r[c]) for c in ACTION_UNITS] for r in temporal])
    b = np.array([[float(r[c]) for c in ACTION_UNITS] for r in frame_only])
    assert np.abs(a - b).max() > 1e-3


@pytest.mark.slow
def test_grid_video_faces_keep_their_own_ids(tmp_path, tiny_model):
    grid, origins = build_grid_video(tmp_path / "grid.mp4")
    out, rows = _annotate(tmp_path, grid, tiny_model)
    quadrant_ids: dict[tuple[int, int], set[str]] = {}
    id_quadrants: dict[str, set[tuple[int, int]]] = {}
    frames_per_quadrant: dict[tuple[int, int], int] = {}
    for r in rows:
        cx = float(r["x"]) + float(r["w"]) / 2
        cy = float(r["y"]) + float(r["h"]) / 2
        q = (int(cx // 640), int(cy // 360))
        quadrant_ids.setdefault(q, set()).add(r["track_id"])
        id_quadrants.setdefault(r["track_id"], set()).add(q)
        frames_per_quadrant[q] = frames_per_quadrant.get(q, 0) + 1
    # three faces (Pexels, single_face, face_noface's face part); nothing in the no-face tile
    assert set(quadrant_ids) == {(0, 0), (1, 0), (0, 1)}
    for q, ids in quadrant_ids.items():
        assert len(ids) == 1, f"quadrant {q} changed id: {ids}"
    for tid, qs in id_quadrants.items():
        assert len(qs) == 1, f"track {tid} jumped between faces: {qs}"
    assert frames_per_quadrant[(0, 0)] == 72 and frames_per_quadrant[(1, 0)] == 72
