import numpy as np
import pytest

from realtime_affect.faces import align


def _landmarks_from_points(points5: np.ndarray) -> np.ndarray:
    """A fake 478-point set whose alignment groups average to the given 5 points."""
    lms = np.zeros((478, 3), dtype=np.float32)
    for (group, point) in zip(align.FIVE_POINT_GROUPS, points5):
        for idx in group:
            lms[idx, :2] = point
    return lms


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.4, 1.7, np.array([12.0, -5.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    mat = align.similarity_transform(src, dst)
    np.testing.assert_allclose(mat[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(mat[:, 2], shift, atol=1e-9)


def test_crop_puts_the_eyes_where_the_template_says():
    import cv2

    size = 112
    frame = np.zeros((400, 600, 3), dtype=np.uint8)
    # a face 2x the template, rotated by 20 degrees, somewhere in the frame
    tpl = align.template(size)
    angle = np.deg2rad(20)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pts = (tpl - 56) @ rot.T * 2 + np.array([300, 200])
    for x, y in pts[:2]:  # mark the eyes with bright dots
        cv2.circle(frame, (int(round(x)), int(round(y))), 4, (255, 255, 255), -1)
    crop = align.crops(frame, [_landmarks_from_points(pts)], size)[0]
    for x, y in tpl[:2]:
        assert crop[int(round(y)), int(round(x))].max() > 200, "eye dot not at its template position"
    assert crop.mean() < 20  # the rest of the crop stays dark


def test_faces_at_the_border_give_padded_crops_not_errors():
    frame = np.full((100, 100, 3), 128, dtype=np.uint8)
    pts = align.template(112) + np.array([-50.0, -40.0])  # mostly outside the frame
    out = align.crops(frame, [_landmarks_from_points(pts)], 112)
    assert out.shape == (1, 112, 112, 3)
    assert (out[0] == 0).any() and (out[0] == 128).any()


def test_to_input_normalises_rgb_channels_first():
    crops = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    crops[..., 2] = 255  # red in BGR
    x = align.to_input(crops, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    assert x.shape == (2, 3, 4, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0], 1.0)  # R
    np.testing.assert_allclose(x[:, 1:], -1.0)  # G, B


def test_five_points_rejects_short_landmark_sets():
    with pytest.raises(ValueError, match="478"):
        align.five_points(np.zeros((68, 2)))
