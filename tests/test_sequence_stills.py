"""GRU v2's training data made from stills, its losses and figures, and the flow end to end."""
from __future__ import annotations

import numpy as np
import pytest

from trainers.sequence_stills import (FeatureBank, evaluate_live, evaluate_sequences, flips_per_100, frame_change,
                                      majority_agreement, make_sequences, sequence_losses)


def _bank(n: int = 6, views: int = 3, dim: int = 4) -> FeatureBank:
    """Face i's copies sit around the point i * 10 in every dimension; face i's label is i % 3."""
    rng = np.random.default_rng(0)
    feats = (np.arange(n)[:, None, None] * 10.0 + rng.normal(0, 0.1, (n, views, dim))).astype(np.float32)
    expression = np.eye(8, dtype=np.float32)[np.arange(n) % 3]
    return FeatureBank(feats, expression, (np.arange(n) % 3).astype(np.int64), np.zeros((n, 12), np.float32),
                       np.zeros((n, 2), np.float32))


def test_held_faces_stay_near_their_copies_and_changes_move_to_another_expression():
    bank = _bank()
    seqs = make_sequences(bank, 200, 16, np.random.default_rng(1), transition_rate=0.5, pad_rate=0.0, noise=0.0,
                          scale=np.ones(4, np.float32))
    assert seqs["features"].shape == (200, 16, 4) and seqs["mask"].min() == 1
    still, change = ~seqs["change"], seqs["change"]
    assert 60 < change.sum() < 140
    face = np.rint(seqs["features"][:, :, 0] / 10)  # which face each step shows
    assert (face[still] == face[still][:, :1]).all(), "a held face must not turn into another"
    first, last = seqs["expression"][change][:, 0].argmax(-1), seqs["expression"][change][:, -1].argmax(-1)
    assert (first != last).all(), "a change must change the expression"
    # the target follows the features: it is the blend of the two faces' targets at the same step
    assert np.allclose(seqs["expression"].sum(-1), 1.0, atol=1e-5)
    assert ((seqs["majority"][change][:, 0] != seqs["majority"][change][:, -1])).all()


def test_padded_steps_repeat_a_real_step_and_carry_no_loss():
    bank = _bank()
    seqs = make_sequences(bank, 300, 16, np.random.default_rng(2), transition_rate=0.0, pad_rate=1.0, noise=0.0,
                          scale=np.ones(4, np.float32))
    padded = seqs["mask"] == 0
    assert padded.any(axis=1).all()
    for f, m in zip(seqs["features"], seqs["mask"]):
        real = np.flatnonzero(m)
        edge = real[0] if m[0] == 0 else real[-1]
        assert np.allclose(f[m == 0], f[edge])


def test_flips_and_frame_change_by_hand():
    top = np.array([[0, 0, 1, 1, 0], [2, 2, 2, 2, 2]])
    assert flips_per_100(top, np.ones_like(top, dtype=np.float32)) == pytest.approx(100 * 2 / 8)
    mask = np.ones_like(top, dtype=np.float32)
    mask[0, 2:] = 0  # only the first two steps of row 0 are real
    assert flips_per_100(top, mask) == pytest.approx(0.0)
    feats = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]])
    # steps: (3, 4) -> rms over dims of (3/1, 4/2) = sqrt((9 + 4) / 2); then 0; median of the two
    assert frame_change(feats, np.array([1.0, 2.0])) == pytest.approx(np.sqrt(6.5) / 2)


def test_majority_agreement_by_hand_counts_real_steps_against_each_sequences_per_frame_majority():
    frame = np.array([[1, 1, 2, 1, 0], [3, 3, 3, 4, 4]])
    gru = np.array([[1, 1, 1, 1, 1], [4, 4, 4, 4, 4]])
    mask = np.array([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]], np.float32)     # the second sequence: 2 padded steps
    # row 0: majority 1, the GRU agrees on 5 of 5; row 1 (real steps 3, 4, 4): majority 4, agrees on 3 of 3
    assert majority_agreement(gru, frame, mask) == pytest.approx(1.0)
    gru[0, :2] = 2
    assert majority_agreement(gru, frame, mask) == pytest.approx(6 / 8)


def test_the_smoothness_term_is_zero_for_steady_outputs_and_counts_only_where_the_target_holds():
    import torch

    target = torch.zeros(1, 4, 8)
    target[0, :2, 0] = 1
    target[0, 2:, 4] = 1  # changes between steps 1 and 2
    batch = {"mask": torch.ones(1, 4), "expression": target, "aus": torch.zeros(1, 4, 12), "va": torch.zeros(1, 4, 2)}
    steady = {"expression_logits": torch.zeros(1, 4, 8), "au_logits": torch.zeros(1, 4, 12),
              "valence_arousal": torch.zeros(1, 4, 2)}
    assert float(sequence_losses(steady, batch, 1.0)[3]) == 0.0
    follows = dict(steady, expression_logits=10 * target)  # jumps exactly where the target jumps
    assert float(sequence_losses(follows, batch, 1.0)[3]) == pytest.approx(0.0, abs=1e-6)
    jittery = dict(steady, expression_logits=10 * torch.eye(8)[[0, 4, 0, 4]][None])
    assert float(sequence_losses(jittery, batch, 1.0)[3]) > 1.0


def test_validation_figures_compare_the_gru_with_the_per_frame_head():
    import torch

    from realtime_affect.models.sequence import SequenceNet
    from realtime_affect.models.student import StudentNet

    student = StudentNet("tiny", 4).eval()
    net = SequenceNet(4, 8)
    seqs = make_sequences(_bank(), 20, 8, np.random.default_rng(3), 0.5, 0.2, 0.1, np.ones(4, np.float32))
    figures = evaluate_sequences(student, net, seqs)
    assert set(figures) == {"frame_accuracy", "gru_accuracy", "gru_last_step_accuracy", "frame_flips_per_100",
                            "gru_flips_per_100", "gru_frame_majority_agreement"}
    assert all(0.0 <= v <= 100.0 for v in figures.values())
    with torch.no_grad():  # the per-frame baseline is the student's own expression head on the same features
        top = student.expression(torch.from_numpy(seqs["features"])).argmax(-1).numpy()
    labelled = (seqs["mask"] > 0) & (seqs["majority"] >= 0)
    assert figures["frame_accuracy"] == pytest.approx(float((top == seqs["majority"])[labelled].mean()))


def test_live_figures_read_the_last_step_of_each_window_and_count_flips_only_where_the_target_holds():
    import torch

    class LastSign(torch.nn.Module):
        """Reads class 1 where a step's feature is positive, class 0 elsewhere."""

        def forward(self, x):
            return {"expression_logits": torch.stack([-x[..., 0], x[..., 0]], -1)}

    features = np.array([[1, 1, -1, 1, 1], [1, -1, 1, -1, 1]], np.float32)[..., None]
    seqs = {"features": features, "mask": np.ones((2, 5), np.float32),
            "majority": np.array([[1] * 5, [0] * 5]), "change": np.array([False, True])}
    figures = evaluate_live(LastSign(), seqs, window=3)
    # windows end at steps 2, 3, 4: readings 0, 1, 1 (one flip in two pairs) and 1, 0, 1 (a changing target)
    assert figures["gru_live_flips_per_100"] == pytest.approx(50.0)
    assert figures["gru_live_accuracy"] == pytest.approx(3 / 6)


@pytest.mark.slow
def test_sequence_faces_trains_a_gru_the_runtime_runs_on_a_clip(tmp_path):
    from helpers import SINGLE_FACE
    from realtime_affect import Analyzer
    from realtime_affect.models.checkpoint import load_checkpoint
    from synthetic_data import write_faces_folder
    from trainers.cli import main as train_main
    from trainers.faces_recipe import FacesConfig, train_faces

    data = write_faces_folder(tmp_path / "data")
    cache = tmp_path / "cache"
    student = train_faces(FacesConfig(data=data, out=tmp_path / "student", cache=cache, workers=1, epochs=1,
                                      batch_size=8, feature_dim=16))
    out = tmp_path / "gru"
    assert train_main(["sequence-faces", "--student", str(student), "--data", str(data), "--cache", str(cache),
                       "--out", str(out), "--faces", "0", "--views", "2", "--epochs", "2", "--sequences", "64",
                       "--hidden", "8"]) == 0
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt.sequence is not None and ckpt.card.has_sequence
    assert [h["epoch"] for h in ckpt.extra["history"]] == [1, 2]
    assert len(ckpt.extra["feature_scale"]) == 16
    with Analyzer(out / "model.pt") as analyzer:
        results = list(analyzer.video(SINGLE_FACE))
    faces = [f for r in results for f in r.faces]
    assert len(faces) >= 60 and all(f.temporal for f in faces)
    assert all(abs(float(np.sum(f.prediction.expression)) - 1) < 1e-4 for f in faces)


def test_live_term_compares_the_last_steps_of_windows_one_frame_apart_only_where_the_target_holds():
    import torch

    from trainers.sequence_stills import live_consistency

    expr = torch.zeros(2, 5, 8)
    expr[:, :, 0] = 1
    expr[1, -1] = 0
    expr[1, -1, 4] = 1  # sequence 1 changes on its last step: its disagreement is expected
    full = {"expression": expr, "mask": torch.ones(2, 5)}
    now = {"expression_logits": torch.zeros(2, 4, 8)}
    later = {"expression_logits": torch.zeros(2, 4, 8)}
    assert float(live_consistency(now, later, full)) == 0.0
    later["expression_logits"][1, -1, 4] = 20.0  # only the changing sequence moves: not penalised
    assert float(live_consistency(now, later, full)) == 0.0
    later["expression_logits"][0, -1, 4] = 20.0  # the still one moves: penalised
    assert float(live_consistency(now, later, full)) > 1.0


def test_a_gru_without_the_skip_path_survives_a_checkpoint(tmp_path):
    import torch

    from realtime_affect.models.card import ModelCard
    from realtime_affect.models.checkpoint import load_checkpoint, save_checkpoint
    from realtime_affect.models.sequence import SequenceNet
    from realtime_affect.models.student import StudentNet

    net = SequenceNet(16, 8, skip=False).eval()
    assert net.skip is None
    path = save_checkpoint(tmp_path / "m.pt", ModelCard(feature_dim=16), StudentNet("tiny", 16), net)
    again = load_checkpoint(path).sequence
    x = torch.randn(2, 32, 16)
    with torch.no_grad():
        torch.testing.assert_close(again(x)["expression_logits"], net(x)["expression_logits"])
    assert again.skip is None


def test_overlap_term_compares_two_windows_on_the_frames_they_share():
    import torch

    from trainers.sequence_stills import overlap_consistency

    logits = torch.randn(3, 10, 8)
    full = torch.cat([logits, torch.randn(3, 4, 8)], dim=1)  # 14 frames; windows of 10 starting 0 and 4
    first, second = {"expression_logits": full[:, :10]}, {"expression_logits": full[:, 4:14]}
    batch = {"mask": torch.ones(3, 10)}
    assert float(overlap_consistency(first, second, 4, batch)) == pytest.approx(0.0, abs=1e-6)
    moved = {"expression_logits": second["expression_logits"].clone()}
    moved["expression_logits"][:, 0] += torch.randn(3, 8) * 5  # frame 4 read differently by the second window
    assert float(overlap_consistency(first, moved, 4, batch)) > 0.0
    batch["mask"][:, 4] = 0  # ... unless frame 4 is padding
    assert float(overlap_consistency(first, moved, 4, batch)) == pytest.approx(0.0, abs=1e-6)


def test_hold_term_by_hand_penalises_a_near_tie_flip_but_not_a_kept_lead_or_a_real_change():
    import torch

    from trainers.sequence_stills import hold_top

    still = {"expression": torch.tensor([[[1.0, 0, 0], [1.0, 0, 0]]]), "mask": torch.ones(1, 2)}
    flip = torch.log(torch.tensor([[[0.6, 0.3, 0.1], [0.42, 0.45, 0.13]]]))
    assert float(hold_top(flip, still, 0.1)) == pytest.approx(0.1 - (0.42 - 0.45), abs=1e-6)
    kept = torch.log(torch.tensor([[[0.6, 0.3, 0.1], [0.7, 0.2, 0.1]]]))
    assert float(hold_top(kept, still, 0.1)) == 0.0
    change = {"expression": torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]]), "mask": torch.ones(1, 2)}
    assert float(hold_top(flip, change, 0.1)) == 0.0


def test_the_gru_learns_va_ratings_where_faces_have_them_and_the_students_own_va_elsewhere():
    import torch

    from realtime_affect.models.student import StudentNet
    from trainers.faces_recipe import PreparedSet, predict_prepared
    from trainers.sequence_stills import student_bank

    torch.manual_seed(0)
    n, size = 3, 64
    rng = np.random.default_rng(0)
    soft = np.eye(8, dtype=np.float32)[[0, 1, 4]]
    prepared = PreparedSet("t", rng.integers(0, 255, (n, size, size), dtype=np.uint8), np.ones(n, bool),
                           np.array([0, 1, 4]), soft, np.full((n, 12), -1, np.int8), np.full((n, 12), np.nan, np.float32),
                           np.array([[0.0, 0.0], [-0.55, 0.65], [0.9, -0.8]], np.float32), np.zeros((n, 52), np.float32),
                           np.ones((n, size, size), bool), np.full((n, 8), np.nan, np.float32),
                           np.array([False, False, True]))
    student = StudentNet("tiny", 4).eval()
    own = predict_prepared(student, prepared)["valence_arousal"]
    bank = student_bank(student, prepared, views=2, truth_weight=0.5, seed=0)
    assert np.allclose(bank.va[:2], own[:2], atol=1e-6), "unrated faces: the student's own reading"
    assert np.allclose(bank.va[2], 0.5 * np.array([0.9, -0.8]) + 0.5 * own[2], atol=1e-6), "rated: half the rating"
    assert np.allclose(bank.expression[1], 0.5 * soft[1] + 0.5 * predict_prepared(student, prepared)["expression"][1],
                       atol=1e-6)
