import itertools

import numpy as np

from realtime_affect.faces.matching import hungarian, iou_matrix, match


def test_hungarian_is_optimal_on_random_rectangular_matrices():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m = (int(v) for v in rng.integers(1, 6, 2))
        cost = rng.random((n, m))
        pairs = hungarian(cost)
        assert len(pairs) == min(n, m)
        got = sum(cost[r, c] for r, c in pairs)
        if n <= m:
            best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
        else:
            best = min(sum(cost[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m))
        assert abs(got - best) < 1e-9


def test_iou_of_identical_disjoint_and_half_overlapping_boxes():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [20, 20, 5, 5], [5, 0, 10, 10]])
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 0.0, 50 / 150])


def test_match_pairs_nearby_boxes_and_leaves_far_ones_unmatched():
    tracks = np.array([[0, 0, 50, 50], [200, 0, 50, 50]])
    dets = np.array([[205, 3, 50, 50], [600, 600, 50, 50], [4, 2, 50, 50]])
    pairs, lost, new = match(tracks, dets)
    assert sorted(pairs) == [(0, 2), (1, 0)]
    assert lost == [] and new == [1]


def test_match_gives_the_optimal_allowed_pairs_for_frames_of_one_to_six_faces():
    """The per-frame fast path (plain-float scores, the single-pair shortcut) pairs exactly what the full
    cost matrix and the Hungarian solver pair."""
    from realtime_affect.faces.matching import centre_distance

    rng = np.random.default_rng(1)
    for trial in range(500):
        nt, nd = (int(v) for v in rng.integers(1, 7, 2))
        tracks = np.abs(rng.normal(100, 60, (nt, 4))) + 1
        faces = np.abs(rng.normal(100, 60, (nd, 4))) + 1
        k = min(nt, nd)
        if trial % 2:
            faces[:k] = np.abs(tracks[:k] + rng.normal(0, 5, (k, 4))) + 1  # the same faces, moved a little
        iou, dist = iou_matrix(tracks, faces), centre_distance(tracks, faces)
        allowed = (iou >= 0.2) | (dist <= 0.6)
        cost = np.where(allowed, (1 - iou) + 0.5 * np.minimum(dist, 2.0), 1e6)
        expected = sorted((t, d) for t, d in hungarian(cost) if allowed[t, d])
        pairs, lost, new = match(tracks, faces)
        assert sorted(pairs) == expected
        assert sorted(lost + [t for t, _ in pairs]) == list(range(nt))
        assert sorted(new + [d for _, d in pairs]) == list(range(nd))
