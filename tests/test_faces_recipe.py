"""The default-model recipe end to end on a tiny data folder in the shared data's formats, made from real
face crops of the test clip: landmarking + alignment cache, training, checkpoint, evaluation report."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import DATA
from trainers.cli import main as train_main

CROPS = sorted((DATA / "teacher_crops").glob("pexels_*.png"))
AU_NUMBERS = np.array([1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26, 27])


def _faces(n: int, size: int = 48, grey: bool = True) -> list[np.ndarray]:
    import cv2

    out = []
    for i in range(n):
        img = cv2.imread(str(CROPS[i % len(CROPS)]))
        if (i // len(CROPS)) % 2:
            img = img[:, ::-1]
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA) if size else img
        out.append(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if grey else np.ascontiguousarray(img))
    return out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    import cv2

    root = tmp_path_factory.mktemp("faces_data")
    rng = np.random.default_rng(0)
    for name, n in (("ferplus_train", 16), ("ferplus_valid", 8)):
        votes = np.zeros((n, 10), np.uint8)
        votes[np.arange(n), rng.choice([0, 1, 3, 5, 7], n)] = 7  # neutral, happy, sad, disgust, contempt
        votes[:, 8] = 1
        votes[0] = [0, 0, 0, 0, 0, 0, 0, 0, 9, 1]  # unknown majority: no label
        np.savez(root / f"{name}.npz", images=np.stack(_faces(n)), votes=votes,
                 names=np.array([f"{name}{i}.png" for i in range(n)]))
    subjects = np.array([f"S{i // 2:03d}" for i in range(10)])
    aus = (rng.random((10, len(AU_NUMBERS))) < 0.3).astype(np.uint8)
    np.savez(root / "ckplus_train.npz", images=np.stack(_faces(10)), subjects=subjects,
             emotions=np.array(["happy", "sadness", "surprise", "contempt", "anger"] * 2),
             sequences=np.array([f"{s}_001" for s in subjects]), aus=aus, au_numbers=AU_NUMBERS,
             names=np.array([f"{s}_001_{i:08d}.png" for i, s in enumerate(subjects)]))
    (root / "muxspace" / "images").mkdir(parents=True)
    lines = ["image,emotion,contributor"]
    for i, img in enumerate(_faces(6, size=0, grey=False)):
        cv2.imwrite(str(root / "muxspace" / "images" / f"m{i}.jpg"), img)
        lines.append(f"m{i}.jpg,{['neutral', 'happiness', 'surprise'][i % 3]},1")
    (root / "muxspace" / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


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
