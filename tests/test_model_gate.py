"""The model gate's rules on synthetic readings: the paired bootstrap band, the verdicts and the pass rule."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from model_gate import Figure, GateResult, _accuracy, _ccc, paired  # noqa: E402


def _readings(truth: np.ndarray, right: float, rng) -> np.ndarray:
    """(N, 8) probabilities whose top class is the truth on a ``right`` share of the faces."""
    prob = rng.random((len(truth), 8)) * 0.1
    hit = rng.random(len(truth)) < right
    top = np.where(hit, truth, (truth + 1) % 8)
    prob[np.arange(len(truth)), top] = 1.0
    return prob


def test_a_clearly_better_candidate_is_better_and_the_same_one_is_within_noise():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 8, 2000)
    shipped, better = _readings(truth, 0.70, rng), _readings(truth, 0.80, rng)
    figure = paired("acc", _accuracy, shipped, better, truth, np.random.default_rng(1), 300)
    assert figure.verdict == "better" and 0.05 < figure.low < figure.high < 0.15
    same = paired("acc", _accuracy, shipped, shipped.copy(), truth, np.random.default_rng(1), 300)
    assert same.verdict == "within noise" and same.low == same.high == 0.0
    worse = paired("acc", _accuracy, better, shipped, truth, np.random.default_rng(1), 300)
    assert worse.verdict == "worse"


def test_a_small_difference_on_few_faces_is_within_noise():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 8, 60)
    a, b = _readings(truth, 0.70, rng), _readings(truth, 0.74, rng)
    assert paired("acc", _accuracy, a, b, truth, np.random.default_rng(3), 500).verdict == "within noise"


def test_lower_is_better_for_time_and_the_pass_rule():
    faster = Figure("ms", 4.0, 3.0, -1.2, -0.8, higher_is_better=False)
    slower = Figure("ms", 3.0, 4.0, 0.8, 1.2, higher_is_better=False)
    assert faster.verdict == "better" and slower.verdict == "worse"
    noisy = Figure("acc", 0.80, 0.81, -0.01, 0.03)
    assert GateResult("c", "s", [faster, noisy]).passed
    assert not GateResult("c", "s", [faster, slower]).passed  # anything worse fails it
    assert not GateResult("c", "s", [noisy]).passed  # nothing better: nothing to ship
    assert "**fail**" in GateResult("c", "s", [noisy]).markdown()


def test_ccc_is_one_for_perfect_readings_and_lower_for_shrunk_ones():
    rng = np.random.default_rng(4)
    truth = rng.uniform(-1, 1, (500, 2))
    assert _ccc(0)(truth, truth) == 1.0
    assert _ccc(1)(truth * 0.5, truth) < 0.9


def test_clip_figures_pair_tracks_and_call_fewer_gru_flips_better():
    from model_gate import TrackFlips, clip_figures

    def tracks(gru_flips: list[int], agreement: float) -> dict:
        return {(f"c{i}.mp4", 1): TrackFlips((f"c{i}.mp4", 1), 20, g, agreement) for i, g in enumerate(gru_flips)}

    shipped = tracks([10, 11, 9, 10, 12, 10, 9, 11], 0.90)
    steadier = tracks([5, 6, 4, 5, 6, 5, 4, 6], 0.90)
    steadier[("only_here.mp4", 1)] = TrackFlips(("only_here.mp4", 1), 20, 20, 0.1)  # not in both: left out
    flips, agreement = clip_figures(shipped, steadier, np.random.default_rng(0), 300)
    assert flips.name == "clips: GRU flips / per-frame flips (8 tracks)"
    assert flips.shipped == 82 / 160 and flips.candidate == 41 / 160
    assert flips.verdict == "better" and agreement.verdict == "within noise"
    flips_back, _ = clip_figures(steadier, shipped, np.random.default_rng(0), 300)
    assert flips_back.verdict == "worse"
    assert clip_figures(shipped, {}, np.random.default_rng(0), 10) == []
