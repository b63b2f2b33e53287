"""Posed expressions warped from neutral faces (trainers/expression_warp.py) and their targets in a batch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime_affect.labels import EXPRESSIONS
from trainers.expression_warp import WARP_POINTS, displacement_field, warp_face

SIZE = 64


def _brow_face() -> np.ndarray:
    """A light face with two dark inner-brow bars and a dark mouth bar where the alignment template puts them."""
    face = np.full((SIZE, SIZE), 200, np.uint8)
    y = int(0.35 * SIZE)
    face[y - 1:y + 2, int(0.36 * SIZE):int(0.47 * SIZE)] = 40
    face[y - 1:y + 2, int(0.53 * SIZE):int(0.64 * SIZE)] = 40
    face[int(0.76 * SIZE):int(0.78 * SIZE), int(0.40 * SIZE):int(0.60 * SIZE)] = 60
    return face


def _dark_centre(face: np.ndarray, rows: slice, cols: slice) -> tuple[float, float]:
    """(x, y) centroid of the dark pixels in a window."""
    ys, xs = np.nonzero(face[rows, cols] < 120)
    return float(xs.mean()) + (cols.start or 0), float(ys.mean()) + (rows.start or 0)


def test_anger_lowers_and_draws_the_brows_together_and_sadness_raises_their_inner_ends():
    face = _brow_face()
    brow_rows = slice(int(0.22 * SIZE), int(0.48 * SIZE))
    left, right = slice(0, SIZE // 2), slice(SIZE // 2, SIZE)
    before_left, before_right = _dark_centre(face, brow_rows, left), _dark_centre(face, brow_rows, right)
    angry = warp_face(face, "anger", 1.0)
    after_left, after_right = _dark_centre(angry, brow_rows, left), _dark_centre(angry, brow_rows, right)
    assert after_left[1] > before_left[1] + 1.0 and after_right[1] > before_right[1] + 1.0    # lowered
    assert after_left[0] > before_left[0] and after_right[0] < before_right[0]                # drawn together
    sad = warp_face(face, "sadness", 1.0)
    assert _dark_centre(sad, brow_rows, left)[1] < before_left[1] - 0.5                       # inner ends up
    assert np.array_equal(warp_face(face, "anger", 0.0), face)


def test_fields_are_mirror_symmetric_and_leave_the_crop_edges_alone():
    for kind in WARP_POINTS:
        field = displacement_field(kind, SIZE)
        assert np.allclose(field[..., 0], -field[:, ::-1, 0], atol=1e-4)
        assert np.allclose(field[..., 1], field[:, ::-1, 1], atol=1e-4)
        assert np.abs(field[:, :2]).max() < 0.1 and np.abs(field[:2]).max() < 0.1
    with pytest.raises(ValueError, match="unknown expression warp"):
        displacement_field("joy", SIZE)


def test_only_confidently_neutral_faces_are_warped_and_their_targets_follow():
    from trainers.faces_recipe import WARP_TARGET_SHARE, warp_neutral_faces

    n = EXPRESSIONS.index("neutral")
    soft = np.zeros((4, len(EXPRESSIONS)), np.float32)
    soft[0, n] = soft[1, n] = 1.0                                            # confidently neutral
    soft[2, EXPRESSIONS.index("happiness")] = 1.0
    soft[3, n], soft[3, EXPRESSIONS.index("sadness")] = 0.6, 0.4             # a doubtful neutral
    batch = {"soft": torch.from_numpy(soft.copy()), "expression": torch.tensor([n, n, 4, n]),
             "va": torch.zeros(4, 2), "aus": torch.zeros(4, 12), "au_teacher": torch.full((4, 12), 0.2)}
    crops = np.stack([_brow_face()] * 4)
    out = warp_neutral_faces(crops, batch, share=1.0, gen=torch.Generator().manual_seed(0))
    changed = [not np.array_equal(out[i], crops[i]) for i in range(4)]
    assert changed == [True, True, False, False]
    for row in (0, 1):
        kind = int(batch["expression"][row])
        assert EXPRESSIONS[kind] in WARP_POINTS
        assert float(batch["soft"][row, kind]) == pytest.approx(WARP_TARGET_SHARE)
        assert float(batch["soft"][row].sum()) == pytest.approx(1.0)
        assert float(batch["va"][row, 0]) < 0                                # all three are unpleasant
        assert bool(torch.isnan(batch["au_teacher"][row]).all()) and bool((batch["aus"][row] == -1).all())
    assert torch.equal(batch["soft"][2:], torch.from_numpy(soft[2:]))
    assert np.array_equal(crops[0], _brow_face())                           # the caller's crops are untouched


def test_with_au_codes_warped_faces_learn_the_mouth_that_tells_anger_from_disgust():
    from realtime_affect.labels import ACTION_UNITS
    from trainers.faces_recipe import warp_neutral_faces

    n = EXPRESSIONS.index("neutral")
    soft = np.zeros((2, len(EXPRESSIONS)), np.float32)
    soft[:, n] = 1.0
    seen = {}
    for seed in range(40):
        batch = {"soft": torch.from_numpy(soft.copy()), "expression": torch.tensor([n, n]),
                 "va": torch.zeros(2, 2), "aus": torch.full((2, 12), 0.5), "au_teacher": torch.full((2, 12), 0.2)}
        warp_neutral_faces(np.stack([_brow_face()] * 2), batch, share=1.0, gen=torch.Generator().manual_seed(seed),
                           kinds=("anger", "disgust"), au_codes=True)
        for row in range(2):
            codes = {name: float(v) for name, v in zip(ACTION_UNITS, batch["aus"][row])}
            seen[EXPRESSIONS[int(batch["expression"][row])]] = codes
    assert set(seen) == {"anger", "disgust"}
    anger, disgust = seen["anger"], seen["disgust"]
    assert (anger["AU23"], anger["AU24"], anger["AU10"]) == (1.0, 1.0, 0.0)    # lips pressed, upper lip still
    assert (disgust["AU23"], disgust["AU24"], disgust["AU10"]) == (0.0, 0.0, 1.0)
    assert anger["AU04"] == disgust["AU04"] == 1.0                           # both lower the brows
    assert anger["AU01"] == disgust["AU01"] == -1.0                          # not named: unknown, no loss
    assert anger["AU25"] == anger["AU26"] == anger["AU12"] == -1.0          # what the source face may show


def test_anger_folds_two_vertical_furrows_between_the_brows_and_other_warps_do_not():
    flat = np.full((SIZE, SIZE), 180, np.uint8)
    angry = warp_face(flat, "anger", 1.5).astype(int)
    row = angry[int(0.39 * SIZE)]
    furrows = [int(x * SIZE) for x in (0.465, 0.535)]
    assert all(row[x] < 160 for x in furrows)                         # darker on the furrows
    assert row[int(0.5 * SIZE)] > min(row[furrows]) + 5              # lighter between them
    assert (angry[: int(0.30 * SIZE)] == 180).all() and (angry[int(0.47 * SIZE):] == 180).all()
    assert np.array_equal(warp_face(flat, "sadness", 1.5), flat)     # a flat face has nothing to move


def test_synth_kinds_limits_which_warps_are_made_and_rejects_unknown_ones():
    from trainers.cli import build_parser
    from trainers.expression_warp import choose_warps

    neutral = np.ones(200, bool)
    chosen = choose_warps(neutral, 1.0, np.random.default_rng(0), (1.0, 2.0), kinds=("anger", "disgust"))
    assert len(chosen) == 200 and {kind for _, kind, _ in chosen} == {"anger", "disgust"}
    assert all(1.0 <= s <= 2.0 for _, _, s in chosen)
    every = choose_warps(neutral, 1.0, np.random.default_rng(0))
    assert {kind for _, kind, _ in every} == set(WARP_POINTS)
    with pytest.raises(ValueError, match="unknown expression warp 'joy'"):
        choose_warps(neutral, 1.0, np.random.default_rng(0), kinds=("joy",))
    args = build_parser().parse_args(["faces", "--data", "d", "--out", "o", "--synth-kinds", "anger,disgust"])
    assert args.synth_kinds == ("anger", "disgust")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["faces", "--data", "d", "--out", "o", "--synth-kinds", "anger,joy"])


def test_disgust_wrinkles_the_nose_and_lowers_the_brows_as_far_as_anger():
    flat = np.full((SIZE, SIZE), 180, np.uint8)
    disgusted = warp_face(flat, "disgust", 1.5).astype(int)
    bridge = disgusted[int(0.50 * SIZE), int(0.47 * SIZE):int(0.53 * SIZE)]
    assert (bridge < 170).all()                                       # wrinkles across the nose bridge
    assert (disgusted[: int(0.45 * SIZE)] == 180).all()               # none on the forehead or between the brows
    face = _brow_face()
    brow_rows = slice(int(0.22 * SIZE), int(0.48 * SIZE))
    left = slice(0, SIZE // 2)
    lowered = {kind: _dark_centre(warp_face(face, kind, 1.0), brow_rows, left)[1] - _dark_centre(face, brow_rows, left)[1]
               for kind in ("anger", "disgust")}
    assert lowered["disgust"] > 1.0 and abs(lowered["disgust"] - lowered["anger"]) < 0.5
