"""The grey student architecture and the batch augmentation used to train the default model."""
from __future__ import annotations

import numpy as np
import torch

from realtime_affect.models.student import StudentNet
from trainers.augment_batch import augment, fill_context, occlude_face_parts
from trainers.faces_recipe import class_weights, grey_crops


def test_grey_student_reads_a_colour_face_exactly_as_its_grey_version():
    torch.manual_seed(0)
    net = StudentNet("grey").eval()
    rgb = torch.rand(2, 3, 64, 64) * 2 - 1
    luma = (rgb * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    with torch.no_grad():
        a, b = net(rgb), net(luma.expand(-1, 3, -1, -1))
    assert torch.allclose(a["expression_logits"], b["expression_logits"], atol=1e-5)
    assert a["features"].shape == (2, 128)


def test_training_grey_matches_the_models_own_conversion():
    bgr = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    rgb = bgr[..., ::-1].astype(np.float64)
    expected = rgb @ np.array([0.299, 0.587, 0.114])
    assert np.abs(grey_crops(bgr).astype(np.float64) - expected).max() <= 0.5 + 1e-6


def test_augmentation_is_repeatable_from_its_seed_and_keeps_shape_and_range():
    x = torch.rand(16, 1, 64, 64)
    a = augment(x.clone(), torch.Generator().manual_seed(3))
    b = augment(x.clone(), torch.Generator().manual_seed(3))
    c = augment(x.clone(), torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_context_fill_only_changes_the_margin_outside_the_source_image():
    x = torch.zeros(8, 1, 16, 16)
    inside = torch.zeros(8, 16, 16, dtype=torch.bool)
    inside[:, 4:12, 4:12] = True
    x[:, :, 4:12, 4:12] = 0.5
    out = fill_context(x, inside, torch.Generator().manual_seed(0), share=1.0)
    assert torch.equal(out[:, :, 4:12, 4:12], x[:, :, 4:12, 4:12])
    assert float((out[:, 0][~inside] != 0).float().mean()) > 0.5  # the black margin got context


def test_face_part_occlusion_hides_either_the_mouth_or_the_eyes_and_nothing_else():
    from realtime_affect.faces.align import template

    size = 64
    eyes_y, mouth_y = template(size)[0, 1], template(size)[3, 1]
    x = torch.full((60, 1, size, size), 0.5)
    x[:, :, :, :] += torch.linspace(-0.3, 0.3, size).view(1, 1, size, 1)  # every row has its own grey
    out = occlude_face_parts(x.clone(), torch.Generator().manual_seed(0), share=1.0)
    changed = (out != x)[:, 0]
    mouth_hidden = changed[:, int(mouth_y), size // 2]
    eyes_hidden = changed[:, int(eyes_y), size // 2]
    assert bool((mouth_hidden ^ eyes_hidden).all())            # each face loses exactly one of the two
    assert 0.5 < float(mouth_hidden.float().mean()) < 0.85     # about two thirds lose the mouth
    assert not bool(changed[:, :int(eyes_y) - 8].any())        # the brows and forehead always stay visible
    assert not bool(changed[mouth_hidden][:, :int(eyes_y) + 8].any())   # a mask leaves the eyes
    assert torch.equal(occlude_face_parts(x.clone(), torch.Generator().manual_seed(0), share=0.0), x)
    again = occlude_face_parts(x.clone(), torch.Generator().manual_seed(0), share=1.0)
    assert torch.equal(again, out)


def test_class_weights_favour_rare_classes_and_average_one_over_the_samples():
    labels = np.array([0] * 90 + [3] * 10)
    w = class_weights(labels, power=0.5)
    assert w[3] / w[0] == np.float32(3.0)  # sqrt(90 / 10)
    assert abs(float(w[labels].mean()) - 1.0) < 1e-6
    assert w[1] == 0.0  # absent classes get no weight


def test_a_mirror_averaged_student_reads_a_face_and_its_mirror_image_the_same_in_every_format(tmp_path):
    from realtime_affect.models.card import ModelCard
    from engines.export import export_onnx
    from realtime_affect.models.loader import open_model
    from realtime_affect.models.checkpoint import load_checkpoint, save_checkpoint

    torch.manual_seed(1)
    net = StudentNet("grey", mirror_average=True)
    path = save_checkpoint(tmp_path / "mirror.pt", ModelCard(input_size=64, student_arch="grey"), net)
    assert load_checkpoint(path).student.mirror_average
    onnx_path = export_onnx(path, tmp_path / "mirror.onnx").student_path  # checked against torch inside
    x = np.random.default_rng(2).normal(size=(3, 3, 64, 64)).astype(np.float32)
    mirrored = np.ascontiguousarray(x[..., ::-1])
    for model_file in (path, onnx_path):
        with open_model(model_file) as model:
            a, b = model.student(x), model.student(mirrored)
            np.testing.assert_allclose(a["expression"], b["expression"], atol=1e-6)
            np.testing.assert_allclose(a["features"], b["features"], atol=1e-5)
    single = StudentNet("grey").eval()
    single.load_state_dict(net.state_dict())
    with torch.no_grad():  # the same weights served on one view do not have that symmetry
        one, other = single(torch.from_numpy(x)), single(torch.from_numpy(mirrored))
    assert not torch.allclose(one["features"], other["features"], atol=1e-5)
