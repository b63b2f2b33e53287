"""Per-person baseline: the correction, learning a track's own neutral, baseline files, the CLI, a real clip."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS
from realtime_affect.temporal.baseline import (
    AutoBaselineOptions,
    BaselineCorrector,
    BaselineError,
    CorrectionOptions,
    NeutralReading,
    correct,
    load_baseline,
    save_baseline,
)
from realtime_affect.types import Prediction

DATA = Path(__file__).parent / "data"
NEUTRAL, SADNESS, HAPPINESS = (EXPRESSIONS.index(c) for c in ("neutral", "sadness", "happiness"))


def reading(**probs: float) -> Prediction:
    """A prediction with the given expression probabilities (the rest spread evenly), AUs at 0.2."""
    p = np.zeros(len(EXPRESSIONS))
    for name, value in probs.items():
        p[EXPRESSIONS.index(name)] = value
    rest = [i for i in range(len(p)) if p[i] == 0]
    p[rest] = (1 - p.sum()) / len(rest)
    return Prediction(expression=p.astype(np.float32), action_units=np.full(len(ACTION_UNITS), 0.2, np.float32),
                      valence_arousal=np.array([-0.1, 0.0], np.float32))


TYPICAL_NEUTRAL = NeutralReading.from_predictions([reading(neutral=0.8, sadness=0.05)])
RESTING_SAD = NeutralReading.from_predictions([reading(neutral=0.35, sadness=0.55)])


def top(pred: Prediction) -> str:
    return EXPRESSIONS[int(np.argmax(pred.expression))]


def test_a_resting_sad_face_reads_neutral_and_real_expressions_stay():
    assert top(reading(neutral=0.35, sadness=0.55)) == "sadness"
    assert top(correct(reading(neutral=0.35, sadness=0.55), RESTING_SAD, TYPICAL_NEUTRAL, CorrectionOptions())) == \
        "neutral"
    laugh = correct(reading(happiness=0.95), RESTING_SAD, TYPICAL_NEUTRAL, CorrectionOptions())
    assert top(laugh) == "happiness" and laugh.expression[HAPPINESS] > 0.9
    really_sad = correct(reading(sadness=0.97), RESTING_SAD, TYPICAL_NEUTRAL, CorrectionOptions())
    assert top(really_sad) == "sadness"
    assert abs(float(really_sad.expression.sum()) - 1.0) < 1e-5


def test_a_typical_neutral_baseline_changes_nothing():
    pred = reading(neutral=0.3, anger=0.6)
    same = correct(pred, TYPICAL_NEUTRAL, TYPICAL_NEUTRAL, CorrectionOptions())
    np.testing.assert_allclose(same.expression, pred.expression, atol=1e-5)
    np.testing.assert_allclose(same.action_units, pred.action_units, atol=1e-5)
    np.testing.assert_allclose(same.valence_arousal, pred.valence_arousal, atol=1e-6)


def test_the_shift_is_capped():
    extreme = NeutralReading.from_predictions([reading(anger=0.999)])
    pred = reading(anger=0.9)
    out = correct(pred, extreme, TYPICAL_NEUTRAL, CorrectionOptions(max_shift=1.0))
    # at most 1 nat down for anger and 1 nat up for any other class: anger keeps a share
    assert out.expression[EXPRESSIONS.index("anger")] > 0.9 * np.exp(-2.0) / 1.5


def _frames(times, pred):
    return [(t, pred) for t in times]


def test_auto_learns_a_track_neutral_from_its_calm_frames_only_once_it_has_enough():
    corrector = BaselineCorrector(TYPICAL_NEUTRAL.__class__.from_predictions([reading(neutral=0.8, sadness=0.05)]),
                                  auto=True, auto_options=AutoBaselineOptions(min_calm_s=2.0, refresh_s=0.0))
    calm_sad = reading(neutral=0.35, sadness=0.55)
    laughing = Prediction(expression=reading(happiness=0.95).expression,
                          action_units=np.full(len(ACTION_UNITS), 0.7, np.float32),
                          valence_arousal=np.array([0.7, 0.5], np.float32))
    applied = []
    for i in range(150):  # 5 s at 30 fps: half a second calm, half laughing, ...
        t = i / 30
        pred = calm_sad if (i // 15) % 2 == 0 else laughing
        out, used = corrector(7, t, pred)
        applied.append(used)
        if used and pred is calm_sad:
            assert top(out) == "neutral"
        if pred is laughing:
            assert top(out) == "happiness"
    # 2 s of calm frames take 4 s (120 frames) at this rhythm
    assert not any(applied[:115]) and all(applied[125:])
    learnt = corrector.learnt()[7]
    assert np.argmax(learnt.expression) == SADNESS  # learnt from the calm frames, not the laughs
    assert corrector.baseline_of(8) is None


def test_save_and_load_round_trip_keeps_other_people(tmp_path):
    path = tmp_path / "people.json"
    save_baseline(path, "ann", RESTING_SAD, "m 1")
    save_baseline(path, "bob", TYPICAL_NEUTRAL, "m 1")
    ann = load_baseline(path, "ann", "m 1")
    np.testing.assert_allclose(ann.expression, RESTING_SAD.expression, atol=1e-4)
    np.testing.assert_allclose(ann.action_units, RESTING_SAD.action_units, atol=1e-4)
    assert set(json.loads(path.read_text())["people"]) == {"ann", "bob"}
    with pytest.raises(BaselineError, match="say which with --person"):
        load_baseline(path, None)
    with pytest.raises(BaselineError, match="no baseline for 'carl'"):
        load_baseline(path, "carl")
    with pytest.raises(BaselineError, match="measured with model 'm 1'"):
        load_baseline(path, "ann", "m 2")


def test_a_file_that_is_not_a_baseline_is_never_overwritten(tmp_path):
    other = tmp_path / "notes.json"
    other.write_text('{"mine": 1}')
    with pytest.raises(BaselineError, match="not a realtime-affect baseline file"):
        save_baseline(other, "ann", RESTING_SAD, "m 1")
    assert other.read_text() == '{"mine": 1}'


# -- the command line, on real media ------------------------------------------------------------

def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_cli_measures_saves_and_loads_a_baseline(tmp_path, capsys):
    from realtime_affect.cli import main

    store = tmp_path / "baselines.json"
    assert main(["--baseline-from", str(DATA / "single_face.jpg"), "--save-baseline", str(store),
                 "--person", "ann", "-q"]) == 0
    entry = json.loads(store.read_text())["people"]["ann"]
    assert entry["frames"] == 1 and entry["model"].startswith("realtime-affect-default")
    plain, based = tmp_path / "plain.csv", tmp_path / "based.csv"
    assert main(["--images", str(DATA / "single_face.jpg"), "--csv", str(plain), "-q"]) == 0
    assert main(["--images", str(DATA / "single_face.jpg"), "--csv", str(based), "--load-baseline", str(store),
                 "--person", "ann", "-q"]) == 0
    p, b = _rows(plain)[0], _rows(based)[0]
    assert p["baseline"] == "0" and b["baseline"] == "1"
    # her own (smiling) photo as her neutral: the same photo reads less happy relative to it
    assert float(b["expr_happiness"]) < float(p["expr_happiness"])


@pytest.mark.parametrize("args, message", [
    (["--person", "ann"], "--person names whose baseline"),
    (["--baseline", "auto"], "--baseline auto learns over time"),
    (["--load-baseline", "missing.json"], "baseline file not found"),
    (["--save-baseline", "x.json", "--baseline-from", "a.jpg"], "--save-baseline needs --person"),
])
def test_cli_baseline_mistakes_are_one_line_errors(tmp_path, capsys, args, message):
    from realtime_affect.cli import main

    try:
        code = main(["--images", str(DATA / "single_face.jpg"), "-q", *args])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.fixture(scope="module")
def pexels_auto(tmp_path_factory):
    from realtime_affect.cli import main

    out = tmp_path_factory.mktemp("auto") / "auto.csv"
    assert main(["--video", str(DATA / "WolfgangLanger_Pexels.mp4"), "--csv", str(out), "--baseline", "auto",
                 "--no-display", "-q"]) == 0
    return _rows(out)


def test_auto_baseline_keeps_her_sad_to_laughing_course(pexels_auto):
    rows = pexels_auto
    early = [r for r in rows if float(r["time_s"]) < 6]
    late = [r for r in rows if float(r["time_s"]) > 12]
    assert early and late
    share = lambda rs, c: sum(r["expression"] == c for r in rs) / len(rs)  # noqa: E731
    assert share(early, "sadness") > 0.8
    assert share(late, "happiness") > 0.9
    assert all(r["baseline"] == "1" for r in late)  # learnt by then
    assert all(r["baseline"] == "0" for r in rows if float(r["time_s"]) < 4)  # not yet
