"""The other affect-train flows, one short run each: teachers -> pseudo-labels -> distilled student,
SS-MFAR semi-supervised training, DDP under torchrun, and prepare on a real clip."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from conftest import ROOT
from helpers import SINGLE_FACE
from synthetic_data import write_mtl_dataset
from trainers.cli import main as train_main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mtl_dataset(tmp_path_factory.mktemp("flows"), videos=6, frames=16, seed=3)


def _common(ann, images, out):
    return ["--annotations", str(ann), "--images", str(images), "--out", str(out), "--epochs", "1",
            "--batch-size", "16", "--workers", "0"]


def test_teachers_pseudo_labels_and_a_distilled_student(data, tmp_path):
    from realtime_affect.models.checkpoint import load_checkpoint

    ann, images = data
    for task in ("expr", "au", "va"):
        assert train_main(["teacher", "--task", task, "--arch", "tiny", *_common(ann, images, tmp_path / task)]) == 0
        assert load_checkpoint(tmp_path / task / "student.pt").card.trained == (
            {"expr": ("expression",), "au": ("action_units",), "va": ("valence_arousal",)}[task])
    labels = tmp_path / "soft.npz"
    assert train_main(["pseudo-label", "--annotations", str(ann), "--images", str(images), "--out", str(labels),
                       *[a for t in ("expr", "au", "va") for a in ("--teacher", str(tmp_path / t / "student.pt"))]]) == 0
    soft = np.load(labels)
    assert soft["expression"].shape[1] == 8 and soft["action_units"].shape[1] == 12
    np.testing.assert_allclose(soft["expression"].sum(1), 1.0, atol=1e-4)
    assert train_main(["student", "--arch", "tiny", "--soft-labels", str(labels),
                       *_common(ann, images, tmp_path / "student")]) == 0
    assert load_checkpoint(tmp_path / "student" / "student.pt").card.trained == (
        "expression", "action_units", "valence_arousal")


def test_semi_supervised_student_runs_with_strong_views(data, tmp_path):
    import torch

    ann, images = data
    assert train_main(["student", "--arch", "tiny", "--semi-supervised", *_common(ann, images, tmp_path)]) == 0
    state = torch.load(tmp_path / "train_state.pt", weights_only=False)
    assert state["thresholds"].shape == (8,) and (state["thresholds"] <= 1).all()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None and not (ROOT / ".venv/bin/torchrun").exists(),
                    reason="torchrun not found")
def test_ddp_under_torchrun_on_two_cpu_processes(data, tmp_path):
    ann, images = data
    torchrun = shutil.which("torchrun") or str(ROOT / ".venv/bin/torchrun")
    proc = subprocess.run([torchrun, "--nproc_per_node", "2", "-m", "trainers.cli", "student", "--arch", "tiny",
                           "--device", "cpu", *_common(ann, images, tmp_path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "student.pt").exists() and proc.stderr.count("wrote") == 1


def test_prepare_makes_aligned_crops_with_the_runtime_code(tmp_path):
    import cv2

    assert train_main(["prepare", "--videos", str(SINGLE_FACE), "--out", str(tmp_path)]) == 0
    crops = sorted((tmp_path / "single_face").glob("*.jpg"))
    assert len(crops) == 72 and crops[0].name == "00001.jpg"
    assert cv2.imread(str(crops[0])).shape == (112, 112, 3)
