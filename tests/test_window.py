import numpy as np
import pytest

from realtime_affect.temporal.feature_windows import CentredWindows, centre_weights, pad_window


def _run(n: int, window: int = 32, hop: int | None = None):
    """Feed n observations whose feature is their position; the fake model echoes features."""
    w = CentredWindows(window, hop)
    obs, peak, settled_late = [], 0, []
    for i in range(n):
        obs.append(w.push("t", np.array([float(i)], np.float32)))
        for job in w.ready():
            w.accumulate(job, {"x": job.features.copy()})
        peak = max(peak, w.buffered)
        settled_late.append(i - max([k for k, o in enumerate(obs) if o.final], default=-1))
    for job in w.finish("t"):
        w.accumulate(job, {"x": job.features.copy()})
    return obs, peak, settled_late


@pytest.mark.parametrize("n", [1, 5, 31, 32, 33, 48, 49, 200])
def test_every_observation_gets_its_own_prediction_averaged_over_windows(n):
    obs, _, _ = _run(n)
    assert all(o.final for o in obs)
    np.testing.assert_allclose([o.mean()["x"][0] for o in obs], np.arange(n), atol=1e-5)


def test_memory_stays_bounded_and_latency_is_under_two_windows():
    obs, peak, late = _run(2000)
    assert peak <= 32 + 16
    assert max(late) < 2 * 32


def test_interior_observations_are_covered_by_two_windows():
    obs, _, _ = _run(200)
    # position 40 lies in windows starting at 16 and 32: weight sums from two windows
    w = centre_weights(32)
    assert obs[40].weight == pytest.approx(w[40 - 16] + w[40 - 32])


def test_pad_window_repeats_the_edge_observation():
    feats = np.arange(6, dtype=np.float32).reshape(3, 2)
    padded = pad_window(feats, 5)
    assert padded.shape == (5, 2)
    np.testing.assert_array_equal(padded[3:], [[4, 5], [4, 5]])
    front = pad_window(feats, 5, at_end=False)
    np.testing.assert_array_equal(front[:2], [[0, 1], [0, 1]])


def test_tracks_are_independent():
    w = CentredWindows(4, 2)
    a = [w.push("a", np.array([1.0])) for _ in range(3)]
    b = [w.push("b", np.array([2.0])) for _ in range(5)]
    for job in w.ready() + w.finish("a") + w.finish("b"):
        w.accumulate(job, {"x": job.features.copy()})
    assert all(o.mean()["x"][0] == 1.0 for o in a)
    assert all(o.mean()["x"][0] == 2.0 for o in b)
