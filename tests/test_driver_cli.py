"""``affect-driver`` as a user runs it: real clips, its outputs, its one-line errors, and its evaluation on the
shared driver clips (skipped where ../shared/media/driver is absent)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from helpers import PEXELS, SINGLE_FACE
from realtime_affect.driver.evaluation import Span, load_labels, score
from realtime_affect.driver.outputs import DRIVER_COLUMNS

SHARED_DRIVER = ROOT.parent / "shared" / "media" / "driver"
LABELS = ROOT / "benchmarks" / "driver_labels.csv"
ALARMS = {"microsleep", "sleep", "drowsy", "unresponsive"}


def driver(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "realtime_affect.driver.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)


def test_an_awake_talking_laughing_face_gives_signals_and_no_drowsiness(tmp_path):
    rows, events, video = tmp_path / "d.csv", tmp_path / "e.jsonl", tmp_path / "dash.mp4"
    proc = driver("--video", str(PEXELS), "--csv", str(rows), "--events", str(events), "--out", str(video),
                  "--no-display")
    assert proc.returncode == 0, proc.stderr
    with open(rows, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert tuple(table[0]) == DRIVER_COLUMNS
    assert len(table) == 472  # one row per frame
    assert {r["eye_state"] for r in table} <= {"open", "closed", "unknown"}
    assert 5 <= float(table[-1]["blinks_per_min"]) <= 40
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert not [r for r in records if r["kind"] in ALARMS]
    assert "closures:" in proc.stderr
    import av

    with av.open(str(video)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 472


def test_bad_input_output_and_config_are_one_line_errors(tmp_path):
    missing = driver("--video", str(tmp_path / "nope.mp4"), "--no-display")
    assert missing.returncode == 2 and missing.stderr.strip().splitlines()[-1].startswith("affect-driver: error:")
    assert "Traceback" not in missing.stderr
    config = tmp_path / "c.json"
    config.write_text('{"sleep_after": 2}')
    bad = driver("--video", str(SINGLE_FACE), "--config", str(config), "--no-display")
    assert bad.returncode == 2 and "unknown setting 'sleep_after'" in bad.stderr and "Traceback" not in bad.stderr
    exists = tmp_path / "d.csv"
    exists.write_text("keep me")
    refused = driver("--video", str(SINGLE_FACE), "--csv", str(exists), "--no-display")
    assert refused.returncode == 2 and "already exists" in refused.stderr and exists.read_text() == "keep me"
    onto_input = driver("--video", str(SINGLE_FACE), "--csv", str(SINGLE_FACE), "--overwrite", "--no-display")
    assert onto_input.returncode == 2 and "is the input" in onto_input.stderr
    none = driver("--no-display")
    assert none.returncode == 2 and "give an input" in none.stderr


def test_scoring_matches_starts_within_the_tolerance(tmp_path):
    labels = [Span("closure", 1.0), Span("closure", 5.0), Span("yawning", 10.0)]
    predicted = [Span("closure", 1.3), Span("closure", 7.0), Span("yawning", 9.6), Span("yawning", 30.0)]
    scores = score(labels, predicted, {"closure", "yawning"}, 0.5)
    assert (scores["closure"].matched, scores["closure"].precision, scores["closure"].recall) == (1, 0.5, 0.5)
    assert scores["yawning"].start_errors == pytest.approx([-0.4])
    path = tmp_path / "l.csv"
    path.write_text("# a comment\nvideo,kind,start_s,end_s\na.mp4,none,,\nb.mp4,yawning,1.5,3\n")
    assert load_labels(path) == {"a.mp4": [], "b.mp4": [Span("yawning", 1.5, 3.0)]}


@pytest.mark.skipif(not SHARED_DRIVER.is_dir(), reason="../shared/media/driver is not here")
def test_every_labelled_closure_and_yawn_of_the_shared_clips_is_found(tmp_path):
    """And nothing on the five awake clips (surprise, pulled faces, talking, laughing): no event of any kind."""
    clips = [next(SHARED_DRIVER.glob(f"{n}_*")) for n in ("02", "05", "07", "09", "10", "11", "12", "13")]
    report = tmp_path / "eval.md"
    proc = driver("eval", "--labels", str(LABELS), *map(str, clips), "--report", str(report), timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split("|")[1].strip(): line for line in report.read_text().splitlines()
             if line.startswith("| closure") or line.startswith("| yawning")}
    for kind in ("closure", "yawning"):
        cells = [c.strip() for c in lines[kind].split("|")[1:-1]]
        labelled, predicted, matched = map(int, cells[1:4])
        assert matched == labelled > 0, lines[kind]  # every one found, starting within 0.5 s
        assert predicted == matched, lines[kind]  # nothing else: no closure while talking, no extra yawn
    others = report.read_text().split("Other events raised")[1]
    talking = next(line for line in others.splitlines() if line.startswith("- 05_"))
    assert talking.endswith("none")  # the talking driver: no closure alarm at all
    night = next(line for line in others.splitlines() if line.startswith("- 07_"))
    assert not any(f"{kind} " in night for kind in ("microsleep", "sleep", "unresponsive"))  # squeezed eyes
    raised = others.split("Closures of the eyes")[0]
    awake = [line for line in raised.splitlines() if line.startswith(("- 09_", "- 10_", "- 11_", "- 12_", "- 13_"))]
    assert len(awake) == 5 and all(line.endswith(": none") for line in awake), awake


def test_the_embedding_example_writes_events_video_and_a_summary(tmp_path):
    events, video = tmp_path / "events.jsonl", tmp_path / "dash.mp4"
    proc = subprocess.run([sys.executable, "examples/driver_monitoring.py", "--video", str(SINGLE_FACE), "--events",
                           str(events), "--out", str(video), "--no-display"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "summary: 72 frames" in proc.stdout and "eye closures" in proc.stdout
    assert events.exists() and all(json.loads(line) for line in events.read_text().splitlines())
    import av

    with av.open(str(video)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 72
