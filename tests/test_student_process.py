"""The student's helper process: the same readings as the student in this process, and a run that never
waits on a helper that cannot start, answers late or is gone."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
from helpers import SINGLE_FACE, decode_frames, write_tiny_checkpoint

from realtime_affect.analysis.options import AnalyzerOptions
from realtime_affect.assets import asset_path
from realtime_affect.faces import align
from realtime_affect.models.loader import open_model
from realtime_affect.models.student_process import StudentProcess, StudentProcessOptions, start_for, wanted
from realtime_affect.runner import analyze_video
from realtime_affect.sources import VideoSource

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the helper process is for POSIX systems")

DEFAULT_ONNX = asset_path("default_model.onnx")


@pytest.fixture(scope="module")
def model():
    with open_model(DEFAULT_ONNX, threads=1) as m:
        yield m


@pytest.fixture(scope="module")
def crops(model):
    """Aligned crops of real faces (the single-face clip), as the pipeline hands them over."""
    import cv2

    from realtime_affect.faces.landmarker import Landmarker

    found = []
    with Landmarker() as lm:
        for i, bgr in enumerate(decode_frames(SINGLE_FACE, 8)):
            faces = lm.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i / 30)
            found.extend(align.crops(bgr, [f.landmarks for f in faces], model.card.input_size))
    assert len(found) == 8
    return np.stack(found)


def _here(model):
    return lambda c: model.student(align.to_input(c, model.card.mean, model.card.std))


def _wait_ready(helper: StudentProcess, crops, fallback, limit_s: float = 60.0) -> None:
    start = time.monotonic()
    while helper.answered == 0 and helper.running and time.monotonic() - start < limit_s:
        helper(crops[:1], fallback)
        time.sleep(0.05)


def test_a_file_read_through_the_helper_gives_the_readings_of_the_student_in_this_process(model):
    helpers = []

    def run(flag):
        options = AnalyzerOptions(student_process=flag)
        with VideoSource(SINGLE_FACE) as source:
            return list(analyze_video(model, source, options))

    import realtime_affect.models.student_process as student_process

    original = student_process.start_for

    def keep(m, options):
        helper = original(m, options)
        helpers.append(helper)
        return helper

    student_process.start_for = keep
    try:
        through_helper, here = run(True), run(False)
    finally:
        student_process.start_for = original
    assert helpers[0] is not None and helpers[1] is None
    assert helpers[0].answered > 0 and not helpers[0].running  # it answered, and it was stopped at the end
    assert helpers[0]._proc is None
    assert [len(r.faces) for r in through_helper] == [len(r.faces) for r in here]
    assert sum(len(r.faces) for r in here) > 0
    for a, b in zip(through_helper, here):
        for fa, fb in zip(a.faces, b.faces):
            assert np.array_equal(fa.prediction.expression, fb.prediction.expression)
            assert np.array_equal(fa.prediction.action_units, fb.prediction.action_units)
            assert np.array_equal(fa.prediction.valence_arousal, fb.prediction.valence_arousal)


def test_the_helper_computes_exactly_what_this_process_computes(model, crops):
    here = _here(model)
    # a generous deadline: on a loaded machine a 50 ms reply can be late, and the batch then runs here
    with StudentProcess(DEFAULT_ONNX, 1, StudentProcessOptions(timeout_s=5.0)) as helper:
        _wait_ready(helper, crops, here)
        assert helper.running and helper.answered == 1
        for n in (1, 4, 8):
            got, expected = helper(crops[:n], here), here(crops[:n])
            assert sorted(got) == sorted(expected)
            for name in expected:
                assert np.array_equal(got[name], expected[name]), name
        assert helper.answered == 4


def test_a_helper_that_cannot_load_the_model_leaves_the_student_here(tmp_path, model, crops):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    here = _here(model)
    with StudentProcess(broken, 1) as helper:
        _wait_ready(helper, crops, here)
        assert not helper.running  # it said it could not load the file and was stopped
        out = helper(crops[:2], here)
    assert helper.answered == 0
    assert np.array_equal(out["expression"], here(crops[:2])["expression"])


def test_late_answers_fall_back_here_and_stop_the_helper_after_three(model, crops):
    here = _here(model)
    with StudentProcess(DEFAULT_ONNX, 1, StudentProcessOptions(timeout_s=0.0, max_misses=3)) as helper:
        start = time.monotonic()
        while not helper._ready and time.monotonic() - start < 60:  # loaded, so each miss is a late answer
            helper._check_ready()
            time.sleep(0.05)
        assert helper._ready
        outs = [helper(crops[:1], here) for _ in range(3)]  # no answer can come back in 0 s
        assert not helper.running and helper.answered == 0
    expected = here(crops[:1])["expression"]
    assert all(np.array_equal(o["expression"], expected) for o in outs)


def test_a_helper_killed_mid_run_leaves_the_student_here(model, crops):
    here = _here(model)
    with StudentProcess(DEFAULT_ONNX, 1) as helper:
        _wait_ready(helper, crops, here)
        helper._proc.kill()
        helper._proc.wait()
        out = helper(crops[:3], here)
        assert not helper.running
    assert np.array_equal(out["valence_arousal"], here(crops[:3])["valence_arousal"])


def test_which_runs_use_a_helper(tmp_path, model):
    assert wanted(model, AnalyzerOptions(student_process=True))
    assert not wanted(model, AnalyzerOptions(student_process=False))
    assert start_for(model, AnalyzerOptions(student_process=False)) is None
    with open_model(write_tiny_checkpoint(tmp_path / "tiny.pt"), backend="torch") as torch_model:
        assert not wanted(torch_model, AnalyzerOptions(student_process=True))  # ONNX Runtime on the CPU only
    from realtime_affect.batch.job import JobOptions

    assert JobOptions().analyzer_options().student_process is False  # batch workers share the cores already


def test_the_helper_ignores_ctrl_c_and_ends_with_its_input(model, crops):
    import signal

    here = _here(model)
    helper = StudentProcess(DEFAULT_ONNX, 1)
    _wait_ready(helper, crops, here)
    proc = helper._proc
    proc.send_signal(signal.SIGINT)  # the terminal sends Ctrl-C to the whole group: the parent decides
    time.sleep(0.2)
    assert proc.poll() is None
    assert helper(crops[:1], here) is not None and helper.answered == 2
    helper.close()
    assert proc.returncode == 0


def test_a_helper_the_system_cannot_start_leaves_the_student_here(model, monkeypatch):
    import subprocess

    def refuse(*args, **kwargs):
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert wanted(model, AnalyzerOptions(student_process=True))
    assert start_for(model, AnalyzerOptions(student_process=True)) is None
