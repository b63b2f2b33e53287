"""The default-model recipe end to end on a tiny data folder in the shared data's formats, made from real
face crops of the test clip: landmarking + alignment cache, training, checkpoint, evaluation report."""
from __future__ import annotations

import json

import pytest

from synthetic_data import write_faces_folder
from trainers.cli import main as train_main


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_faces_folder(tmp_path_factory.mktemp("faces_data"))


@pytest.mark.slow
def test_recipe_trains_writes_a_runtime_checkpoint_and_scores_it(data_dir, tmp_path):
    from realtime_affect.models.checkpoint import load_checkpoint

    from trainers.faces_recipe import FacesConfig, train_faces

    run, cache = tmp_path / "run", tmp_path / "cache"
    common = ["--data", str(data_dir), "--cache", str(cache), "--workers", "1"]

    def stop_after_two(record: dict) -> None:
        if record["epoch"] == 2:
            raise KeyboardInterrupt  # as a user's Ctrl-C after the second epoch's checkpoint

    with pytest.raises(KeyboardInterrupt):
        train_faces(FacesConfig(data=data_dir, out=run, cache=cache, workers=1, epochs=3, batch_size=8),
                    on_epoch=stop_after_two)
    ckpt = load_checkpoint(run / "student.pt")
    assert ckpt.card.input_size == 64 and ckpt.card.student_arch == "grey"
    assert set(ckpt.card.trained) == {"expression", "action_units", "valence_arousal"}
    history = ckpt.extra["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert {"ferplus_valid/accuracy", "ckplus_val_subjects/au_macro_f1", "muxspace_val/accuracy"} <= set(history[-1])
    report = ckpt.extra["fit_report"]
    assert report["ferplus_train"]["faces"] == 16 and report["ckplus"]["faces"] == 10
    assert report["ferplus_train"]["fitted"] >= 12  # real faces: the landmarker fits nearly all of them
    assert list(cache.glob("*.fit.npz")), "the landmark cache was not written"

    # resume: the interrupted run finishes its third epoch; a different plan is refused in one line
    assert train_main(["faces", *common, "--out", str(run), "--epochs", "4", "--batch-size", "8", "--resume"]) == 2
    assert train_main(["faces", *common, "--out", str(run), "--epochs", "3", "--batch-size", "8", "--resume"]) == 0
    assert [h["epoch"] for h in load_checkpoint(run / "student.pt").extra["history"]] == [1, 2, 3]

    md = tmp_path / "report.md"
    assert train_main(["faces-eval", *common, "--model", str(run / "student.pt"), "--report", str(md),
                       "--teachers"]) == 0
    text = md.read_text()
    assert "FER+ validation" in text and "CK+ held-out subjects" in text and "AU macro-F1" in text
    assert "Mean valence / arousal per labelled class" in text
    results = json.loads(md.with_suffix(".json").read_text())
    fer = results["student.pt"][0]
    assert fer["set"] == "FER+ validation" and fer["faces"] == 7  # the unknown-majority face has no label
    assert 0.0 <= fer["expression"]["accuracy"] <= 1.0
    assert sum(map(sum, fer["expression"]["confusion"])) == 7
    assert "teacher face-api" in results and "teacher blendshape-AU" in results


def test_recipe_refuses_a_folder_without_any_set(tmp_path, capsys):
    assert train_main(["faces", "--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "ferplus_train.npz" in err and "Traceback" not in err


def test_leave_one_dataset_out_never_trains_on_the_left_out_set_and_scores_all_of_it(data_dir, tmp_path):
    from trainers.faces_recipe import FacesConfig, build_splits, training_label_counts, validation_sets

    cache = tmp_path / "cache"
    usual = build_splits(FacesConfig(data=data_dir, out=tmp_path, cache=cache, workers=1))
    left = build_splits(FacesConfig(data=data_dir, out=tmp_path, cache=cache, workers=1, leave_out="ckplus"))
    assert "ckplus" in {s.name for s in usual.train} and usual.teacher is not None
    assert "ckplus" not in {s.name for s in left.train}
    assert left.teacher is None  # the AU teacher is fitted on CK+: nothing of CK+ may reach training
    assert len(left.val["ckplus_left_out"]) == 10 and "ckplus_val_subjects" not in left.val
    usual_counts = training_label_counts(FacesConfig(data=data_dir, out=tmp_path, cache=cache, workers=1))
    left_counts = training_label_counts(FacesConfig(data=data_dir, out=tmp_path, cache=cache, workers=1,
                                                    leave_out="ckplus"))
    assert left_counts.sum() < usual_counts.sum()
    sets, teacher = validation_sets(FacesConfig(data=data_dir, out=tmp_path, cache=cache, workers=1,
                                                leave_out="muxspace"))
    muxspace = [s for s in sets if s.name.startswith("muxspace left out")]
    rows = [r for r in (data_dir / "muxspace" / "labels.csv").read_text().splitlines()[1:] if r.strip()]
    assert len(muxspace) == 1 and len(muxspace[0].faces) == len(rows)  # every file, not a held-out tenth


@pytest.mark.slow
def test_distilling_from_an_open_teacher_reads_and_caches_its_readings(data_dir, tmp_path):
    from realtime_affect.models.checkpoint import load_checkpoint

    cache = tmp_path / "cache"
    run = tmp_path / "run"
    assert train_main(["faces", "--data", str(data_dir), "--cache", str(cache), "--workers", "1", "--out", str(run),
                       "--epochs", "1", "--batch-size", "8", "--distill-teacher", "face-api", "--mixup", "0.4",
                       "--au-pos-power", "0.5"]) == 0
    cached = sorted(p.name for p in cache.glob("*.face-api.expr.npy"))
    assert "ferplus_train.face-api.expr.npy" in cached and "ferplus_valid.face-api.expr.npy" not in cached
    import numpy as np

    probs = np.load(cache / "ferplus_train.face-api.expr.npy")
    assert probs.shape == (16, 8) and np.allclose(probs.sum(1), 1.0, atol=1e-4) and (probs[:, 7] == 0).all()
    config = load_checkpoint(run / "student.pt").extra["config"]
    assert config["distill_teacher"] == "face-api" and config["mixup"] == 0.4


def test_va_by_class_places_each_labelled_class_beside_the_circumplex_and_the_raters():
    import numpy as np

    from trainers.face_eval import va_by_class, va_by_class_table
    from realtime_affect.labels import EXPRESSIONS

    anger, happy = EXPRESSIONS.index("anger"), EXPRESSIONS.index("happiness")
    labels = np.array([anger, anger, happy, -1])
    pred = np.array([[-0.4, 0.6], [-0.6, 0.4], [0.8, 0.2], [9.0, 9.0]], np.float32)
    rating = np.array([[-0.5, 0.7], [-0.7, 0.5], [0.6, 0.3], [0.0, 0.0]], np.float32)
    rated = np.array([True, False, True, False])
    by = va_by_class(pred, labels, rating, rated)
    assert list(by) == ["anger", "happiness"]  # classes without faces (and unlabelled faces) are left out
    assert by["anger"]["faces"] == 2 and np.allclose(by["anger"]["predicted"], [-0.5, 0.5])
    assert np.allclose(by["anger"]["rated"], [-0.5, 0.7])  # only the rated face of the two
    assert np.allclose(by["happiness"]["circumplex"], [0.75, 0.45])
    table = "\n".join(va_by_class_table([("m.onnx", by)]))
    assert "| raters | -0.50 / +0.70 | +0.60 / +0.30 |" in table
    assert "| m.onnx | -0.50 / +0.50 | +0.80 / +0.20 |" in table
    assert "anger (2)" in table


def test_models_of_the_same_file_name_keep_a_report_row_each():
    from trainers.face_eval import model_labels

    assert model_labels(["assets/default_model.onnx", "build/prev/previous.onnx"]) == [
        "default_model.onnx", "previous.onnx"]
    assert model_labels(["build/r5/ctrl/student.pt", "build/r5/warp/student.pt"]) == [
        "ctrl/student.pt", "warp/student.pt"]
    assert model_labels(["a/x/student.pt", "b/x/student.pt"]) == ["a/x/student.pt", "b/x/student.pt"]
    assert model_labels(["m.onnx", "m.onnx"]) == ["m.onnx", "m.onnx (2)"]
