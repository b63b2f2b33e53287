"""Seed methods as training options: the feature pyramid (seed 003), masked co-training and VA from the
expression/AU scores (seed 001); each trains end to end and is scored by ``affect-train eval``."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from synthetic_data import write_mtl_dataset
from trainers.cli import main as train_main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mtl_dataset(tmp_path_factory.mktemp("seeds"), videos=6, frames=16, seed=5)


def test_pyramid_student_fuses_three_levels_and_keeps_the_served_outputs():
    from realtime_affect.models.student import PyramidBackbone, StudentNet

    net = StudentNet("fpn", 32).eval()
    assert isinstance(net.backbone, PyramidBackbone) and net.backbone.out_channels == 192
    out = net(torch.randn(2, 3, 64, 64))
    assert out["features"].shape == (2, 32) and out["expression_logits"].shape == (2, 8)
    # each pyramid level reaches the features: zeroing one level's smoothing changes them
    with torch.no_grad():
        before = net(torch.ones(1, 3, 64, 64) * 0.3)["features"].clone()
        for level in net.backbone.smooth:
            level[0].weight.zero_()
            level[1].bias.zero_()
        after = net(torch.ones(1, 3, 64, 64) * 0.3)["features"]
    assert not torch.allclose(before, after)


def test_va_from_scores_reads_the_expression_and_au_scores_and_survives_a_checkpoint(tmp_path):
    from realtime_affect.models.card import ModelCard
    from realtime_affect.models.checkpoint import load_checkpoint, save_checkpoint
    from realtime_affect.models.student import StudentNet

    torch.manual_seed(0)
    net = StudentNet("tiny", 16, va_from_scores=True).eval()
    assert net.valence_arousal.in_features == 16 + 8 + 12
    x = torch.randn(3, 3, 48, 48)
    with torch.no_grad():
        ref = net(x)["valence_arousal"]
        net.expression.bias[4] += 5.0  # another expression reading moves VA though the features do not change
        moved = net(x)["valence_arousal"]
    assert not torch.allclose(ref, moved)
    path = save_checkpoint(tmp_path / "m.pt", ModelCard(feature_dim=16, input_size=48), net)
    again = load_checkpoint(path).student
    assert again.va_from_scores
    with torch.no_grad():
        torch.testing.assert_close(again(x)["valence_arousal"], moved)


def test_masked_views_hide_the_asked_share_and_differ():
    from trainers.augment_batch import mask_patches

    gen = torch.Generator().manual_seed(1)
    x = torch.ones(4, 3, 64, 64)
    a, b = mask_patches(x, 0.75, gen), mask_patches(x, 0.75, gen)
    for view in (a, b):
        assert torch.allclose((view == 0).float().mean(dim=(1, 2, 3)), torch.full((4,), 0.75))
    assert not torch.equal(a, b)
    assert torch.equal(mask_patches(x, 0.0, gen), x)


def test_js_term_is_zero_for_equal_views_and_positive_otherwise():
    from trainers.losses import js_consistency

    logits = torch.tensor([[2.0, 0.0, -1.0]])
    assert float(js_consistency(logits, logits)) == pytest.approx(0.0, abs=1e-7)
    p, q = torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])
    m = (p + q) / 2
    by_hand = 0.5 * float((p * (p / m).log()).sum()) + 0.5 * float((q[:1] * (q[:1] / m[:1]).log()).sum())
    assert float(js_consistency(p.log()[None], torch.tensor([[0.0, -1e9]]))) == pytest.approx(by_hand, rel=1e-4)


@pytest.mark.parametrize("options", [["--arch", "fpn"], ["--arch", "tiny", "--co-training", "--mask-ratio", "0.6"],
                                     ["--arch", "tiny", "--va-from-scores"]], ids=["fpn", "co-training", "va-from-scores"])
def test_each_option_trains_end_to_end_and_is_scored_by_eval(data, tmp_path, options):
    from realtime_affect.models.checkpoint import load_checkpoint

    ann, images = data
    out = tmp_path / "run"
    assert train_main(["student", *options, "--annotations", str(ann), "--images", str(images), "--out", str(out),
                       "--epochs", "1", "--batch-size", "16", "--workers", "0"]) == 0
    ckpt = load_checkpoint(out / "student.pt")
    assert ckpt.student.arch == options[1]
    assert ckpt.student.va_from_scores == ("--va-from-scores" in options)
    assert ckpt.extra["config"]["co_training"] == ("--co-training" in options)
    report = tmp_path / "eval.json"
    assert train_main(["eval", "--checkpoint", str(out / "student.pt"), "--annotations", str(ann),
                       "--images", str(images), "--json", str(report)]) == 0
    metrics = json.loads(report.read_text())
    assert metrics["samples"] > 0 and np.isfinite(metrics["p_mtl"])


def test_co_training_and_semi_supervised_together_are_refused_in_one_line(data, tmp_path, capsys):
    ann, images = data
    code = train_main(["student", "--arch", "tiny", "--co-training", "--semi-supervised", "--annotations", str(ann),
                       "--images", str(images), "--out", str(tmp_path / "x"), "--epochs", "1", "--workers", "0"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "co-training" in err[0]


def test_semi_supervised_faces_uses_the_faces_the_recipe_leaves_unlabelled(tmp_path):
    from realtime_affect.models.checkpoint import load_checkpoint
    from synthetic_data import write_faces_folder
    from trainers.faces_recipe import FacesConfig, build_splits, training_rows, unlabelled_rows

    data = write_faces_folder(tmp_path / "data")
    cfg = FacesConfig(data=data, out=tmp_path / "run", cache=tmp_path / "cache", workers=1, epochs=2, batch_size=8,
                      csv_cap_per_class=1, semi_supervised=True)
    splits = build_splits(cfg)
    labelled = training_rows(splits.train, cfg.ck_repeat, cfg.csv_cap_per_class, cfg.seed)
    pool = unlabelled_rows(splits.train, cfg.csv_cap_per_class, cfg.seed)
    # the FER+ face with an "unknown" majority has no label; the CSV set keeps one face per class
    assert len(pool) >= 1 and (pool.expression == -1).all()
    expected = 0
    for s in splits.train:
        if s.name == "ferplus_train":
            expected += int((s.fitted & (s.expression < 0)).sum())
        elif s.name == "muxspace":
            labels = s.expression[s.fitted & (s.expression >= 0)]
            expected += len(labels) - len(np.unique(labels))  # one face per class stays labelled
    assert len(pool) == expected and len(labelled) > 0
    assert train_main(["faces", "--data", str(data), "--cache", str(tmp_path / "cache"), "--workers", "1",
                       "--out", str(tmp_path / "run"), "--epochs", "2", "--batch-size", "8",
                       "--semi-supervised"]) == 0
    history = load_checkpoint(tmp_path / "run" / "student.pt").extra["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(h["unlabelled_loss"]) for h in history)
    assert len(history[-1]["thresholds"]) == 8 and max(history[-1]["thresholds"]) <= 1.0


def test_batchnorm_recalibration_puts_the_statistics_of_whole_faces_back():
    from trainers.augment_batch import mask_patches
    from trainers.batchnorm import recalibrate

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    whole = torch.rand(64, 3, 16, 16) + 1.0
    gen = torch.Generator().manual_seed(0)
    net.train()
    with torch.no_grad():
        for _ in range(20):
            net(mask_patches(whole, 0.5, gen, grid=4))  # statistics of half-blanked faces
    bn = net[1]
    with torch.no_grad():
        true_mean = net[0](whole).mean(dim=(0, 2, 3))
    assert not torch.allclose(bn.running_mean, true_mean, atol=1e-3)
    net.eval()
    recalibrate(net, [whole[:32], whole[32:]])
    assert not net.training and bn.momentum == 0.1
    torch.testing.assert_close(bn.running_mean, true_mean, atol=1e-4, rtol=1e-4)


def test_distilled_targets_mix_labels_and_teacher_and_still_sum_to_one():
    from trainers.faces_recipe import distilled_targets

    soft = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0, 0, 0, 0]], np.float32)
    teacher = np.full((2, 8), 1 / 8, np.float32)
    mixed = distilled_targets(soft, teacher, 0.4)
    np.testing.assert_allclose(mixed[0, 0], 0.6 + 0.4 / 8, rtol=1e-6)  # seed 004: 0.6 truth + 0.4 teacher
    np.testing.assert_allclose(mixed.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(distilled_targets(soft, teacher, 0.0), soft)


def test_flip_averaged_teacher_reads_a_face_and_its_mirror_image_the_same():
    from realtime_affect.models.student import StudentNet
    from trainers.faces_recipe import flip_averaged_expression

    torch.manual_seed(3)
    teacher = StudentNet("grey")
    crops = np.random.default_rng(0).integers(0, 256, (5, 64, 64), dtype=np.uint8)
    a = flip_averaged_expression(teacher, crops)
    b = flip_averaged_expression(teacher, np.ascontiguousarray(crops[:, :, ::-1]))
    assert a.shape == (5, 8)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a.sum(1), 1.0, rtol=1e-5)


def test_distillation_with_a_weight_average_trains_resumes_and_saves_the_average(tmp_path):
    from realtime_affect.models.checkpoint import load_checkpoint
    from synthetic_data import write_faces_folder

    data = write_faces_folder(tmp_path / "data")
    common = ["faces", "--data", str(data), "--cache", str(tmp_path / "cache"), "--workers", "1", "--batch-size", "8"]
    assert train_main(common + ["--out", str(tmp_path / "teacher"), "--epochs", "1"]) == 0
    run = ["--out", str(tmp_path / "run"), "--epochs", "2", "--distill-from", str(tmp_path / "teacher" / "student.pt"),
           "--ema", "0.9"]
    assert train_main(common + run) == 0
    saved = load_checkpoint(tmp_path / "run" / "student.pt").student.state_dict()
    state = torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)
    raw, average = state["model"], state["ema"]
    name = "expression.weight"
    assert not torch.allclose(raw[name], saved[name])  # what is saved is the average, not the last step
    torch.testing.assert_close(average[f"module.{name}"], saved[name])
    assert train_main(common + run + ["--resume"]) == 0  # already complete: resumes to the same result
    history = load_checkpoint(tmp_path / "run" / "student.pt").extra["history"]
    assert [h["epoch"] for h in history] == [1, 2]


def test_head_by_head_distillation_takes_each_head_from_its_teacher_without_the_shipped_bias(tmp_path, caplog):
    """Expressions from two teachers averaged, AUs and valence/arousal from a third: each head's targets come
    from its teacher, and a teacher's shipped logit bias is taken off before it teaches."""
    import logging

    from realtime_affect.labels import EXPRESSIONS
    from realtime_affect.models.checkpoint import load_checkpoint, save_checkpoint
    from synthetic_data import write_faces_folder
    from trainers.faces_steps import flip_averaged_readings, teacher_student

    data = write_faces_folder(tmp_path / "data")
    common = ["faces", "--data", str(data), "--cache", str(tmp_path / "cache"), "--workers", "1", "--batch-size", "8"]
    assert train_main(common + ["--out", str(tmp_path / "a"), "--epochs", "1", "--seed", "1"]) == 0
    assert train_main(common + ["--out", str(tmp_path / "b"), "--epochs", "1", "--seed", "2"]) == 0
    a = load_checkpoint(tmp_path / "a" / "student.pt")
    with torch.no_grad():
        a.student.expression.bias[EXPRESSIONS.index("disgust")] += 3.0
    a.card.extra["expression_logit_bias"] = {"disgust": 3.0}
    save_checkpoint(tmp_path / "a_shipped.pt", a.card, a.student)
    unbiased, bias = teacher_student(tmp_path / "a_shipped.pt")
    assert bias == {"disgust": 3.0} and not unbiased.mirror_average  # both views are read by flip_averaged_readings
    torch.testing.assert_close(unbiased.state_dict(), load_checkpoint(tmp_path / "a" / "student.pt").student.state_dict())
    crops = np.random.default_rng(0).integers(0, 255, (6, 64, 64), dtype=np.uint8)
    read = flip_averaged_readings(unbiased, crops)
    assert {k: v.shape for k, v in read.items()} == {"expression": (6, 8), "action_units": (6, 12),
                                                      "valence_arousal": (6, 2)}
    assert ((read["action_units"] >= 0) & (read["action_units"] <= 1)).all()

    run = ["--out", str(tmp_path / "run"), "--epochs", "1", "--init", str(tmp_path / "a_shipped.pt"),
           "--distill-from", str(tmp_path / "a_shipped.pt"), str(tmp_path / "b" / "student.pt"),
           "--distill-au-from", str(tmp_path / "b" / "student.pt"), "--distill-va-from", str(tmp_path / "b" / "student.pt")]
    with caplog.at_level(logging.INFO, logger="trainers"):
        assert train_main(common + run) == 0
    said = caplog.text
    assert "shipped logit bias {'disgust': 3.0} removed" in said
    assert f"distilling expressions from {tmp_path / 'a_shipped.pt'} + {tmp_path / 'b' / 'student.pt'}" in said
    assert "AU teacher:" in said and "without a human rating" in said
    config = load_checkpoint(tmp_path / "run" / "student.pt").extra["config"]
    assert config["distill_from"] == [str(tmp_path / "a_shipped.pt"), str(tmp_path / "b" / "student.pt")]
    assert config["distill_va_from"] == str(tmp_path / "b" / "student.pt")
