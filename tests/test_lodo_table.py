"""scripts/lodo_table.py: the leave-one-dataset-out rows and the seed-spread row from runs' history files."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "lodo_table.py"


def _run(folder: Path, ck_accuracy: float, anger: float) -> Path:
    folder.mkdir()
    last = {"epoch": 3, "ferplus_valid/accuracy": 0.77, "ferplus_valid/recall_anger": 0.7,
            "ferplus_valid/recall_disgust": 0.4, "ferplus_valid/recall_fear": 0.5,
            "ferplus_valid/recall_sadness": 0.6, "ckplus_left_out/accuracy": ck_accuracy,
            "ckplus_left_out/recall_anger": anger, "ckplus_left_out/recall_disgust": 0.5,
            "ckplus_left_out/recall_sadness": 0.5, "diffusionfer_val/valence_ccc": 0.85,
            "diffusionfer_val/arousal_ccc": 0.8}
    (folder / "history.json").write_text(json.dumps([{"epoch": 1}, last]))
    return folder


def test_rows_and_spread(tmp_path: Path) -> None:
    a = _run(tmp_path / "seed0", 0.655, 0.261)
    b = _run(tmp_path / "seed1", 0.646, 0.288)
    out = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b), "--names", "s0,s1", "--spread"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[2] == ("| s0 | 3 | 0.770 | 0.700 | 0.400 | 0.500 | 0.600 | ckplus | 0.655 | 0.261 | 0.500 | 0.500 "
                      "| 0.850 | 0.800 |")
    assert out[4] == ("| spread (max - min) |  | 0.000 | 0.000 | 0.000 | 0.000 | 0.000 |  | 0.009 | 0.027 | 0.000 "
                      "| 0.000 | 0.000 | 0.000 |")


def test_mean_against_a_control(tmp_path: Path) -> None:
    change = [_run(tmp_path / "mix0", 0.640, 0.316), _run(tmp_path / "mix1", 0.626, 0.252)]
    control = [_run(tmp_path / "over0", 0.655, 0.261), _run(tmp_path / "over1", 0.645, 0.289)]
    out = subprocess.run([sys.executable, str(SCRIPT), *map(str, change), "--against", *map(str, control)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[4] == ("| mean of 2 |  | 0.770 | 0.700 | 0.400 | 0.500 | 0.600 |  | 0.633 | 0.284 | 0.500 | 0.500 "
                      "| 0.850 | 0.800 |")
    assert out[5].startswith("| control: mean of 2 |  | 0.770 |") and "| 0.650 | 0.275 |" in out[5]
    assert out[6] == ("| mean minus control |  | +0.000 | +0.000 | +0.000 | +0.000 | +0.000 |  | -0.017 | +0.009 "
                      "| +0.000 | +0.000 | +0.000 | +0.000 |")


def test_means_refuse_runs_that_leave_out_different_sets(tmp_path: Path) -> None:
    ck = _run(tmp_path / "ck", 0.640, 0.3)
    mux = _run(tmp_path / "mux", 0.640, 0.3)
    history = (mux / "history.json").read_text().replace("ckplus_left_out", "muxspace_left_out")
    (mux / "history.json").write_text(history)
    done = subprocess.run([sys.executable, str(SCRIPT), str(ck), "--against", str(mux)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "leave out different sets (ckplus, muxspace)" in done.stderr
