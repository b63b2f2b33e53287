"""An output that is an input (by any spelling or link) is refused before anything is written."""
from __future__ import annotations

import os
import shutil

import pytest

from helpers import SINGLE_FACE, SINGLE_JPG
from realtime_affect.cli import main


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "a.mp4"
    shutil.copy(SINGLE_FACE, path)
    return path


def _refused(capsys, argv, protected):
    before = {p: p.read_bytes() for p in protected}
    assert main([*argv, "--no-display", "-q", "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    for p, data in before.items():
        assert p.read_bytes() == data, f"{p} was changed"
    return err


@pytest.mark.parametrize("flag", ["--csv", "--jsonl", "--out"])
def test_an_output_naming_the_input_is_refused_even_with_overwrite(capsys, clip, flag):
    err = _refused(capsys, ["--video", str(clip), flag, str(clip)], [clip])
    assert "is the input" in err


def test_a_relative_spelling_a_symlink_and_a_hard_link_of_the_input_are_refused(capsys, clip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    assert "is the input" in _refused(capsys, ["--video", str(clip), "--out", "./sub/../a.mp4"], [clip])
    (tmp_path / "link.csv").symlink_to(clip)
    assert "is the input" in _refused(capsys, ["--video", "a.mp4", "--csv", "link.csv"], [clip])
    os.link(clip, tmp_path / "hard.jsonl")
    assert "is the input" in _refused(capsys, ["--video", str(clip), "--jsonl", "hard.jsonl"], [clip])


def test_an_image_input_and_the_model_file_are_protected_too(capsys, tmp_path, tiny_student_only):
    still = tmp_path / "face.jpg"
    shutil.copy(SINGLE_JPG, still)
    assert "is the input" in _refused(capsys, ["--images", str(still), "--csv", str(still)], [still])
    model = tmp_path / "m.pt"
    shutil.copy(tiny_student_only, model)
    assert "is the input" in _refused(capsys, ["--images", str(still), "--model", str(model), "--csv", str(model)],
                                      [still, model])


def test_two_outputs_that_are_one_file_are_refused(capsys, clip, tmp_path):
    (tmp_path / "b.csv").write_text("")
    (tmp_path / "c.jsonl").symlink_to(tmp_path / "b.csv")
    err = _refused(capsys, ["--video", str(clip), "--csv", str(tmp_path / "b.csv"), "--jsonl",
                            str(tmp_path / "c.jsonl")], [clip])
    assert "same file" in err
