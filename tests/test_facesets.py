"""Readers of the labelled face sets, the label mapping, VA derivation, AU teacher and per-class metrics."""
from __future__ import annotations

import numpy as np
import pytest

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS
from trainers.data import DataError
from trainers.face_metrics import au_report, expression_report
from trainers.facesets import (ckplus_aus, ferplus_targets, read_ckplus, read_csv_folder, read_ferplus,
                               split_groups)
from trainers.va_targets import VA_CENTROIDS, va_from_expression

E = {name: i for i, name in enumerate(EXPRESSIONS)}


def test_ferplus_votes_become_soft_targets_in_abaw_order_with_contempt_as_other():
    # columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, not-a-face
    votes = np.array([
        [0, 8, 2, 0, 0, 0, 0, 0, 0, 0],   # happy
        [0, 0, 0, 0, 0, 0, 0, 6, 4, 0],   # contempt majority -> other
        [2, 0, 0, 0, 0, 0, 0, 0, 7, 1],   # unknown majority -> no label
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face -> no label
        [3, 0, 0, 3, 0, 0, 0, 0, 0, 0],   # tie: FER+ column order decides (neutral first)
    ], np.uint8)
    soft, expr = ferplus_targets(votes)
    assert expr.tolist() == [E["happiness"], E["other"], -1, -1, E["neutral"]]
    assert soft[0, E["happiness"]] == pytest.approx(0.8) and soft[0, E["surprise"]] == pytest.approx(0.2)
    assert soft[1, E["other"]] == pytest.approx(1.0)  # unknown votes are not part of the emotion shares
    assert soft[2].sum() == 0 and soft[3].sum() == 0
    assert soft[4, E["neutral"]] == pytest.approx(0.5) and soft[4, E["sadness"]] == pytest.approx(0.5)


def test_ferplus_reader_counts_faces_without_a_majority_emotion(tmp_path):
    path = tmp_path / "f.npz"
    votes = np.array([[10, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 10, 0]], np.uint8)
    np.savez(path, images=np.zeros((2, 48, 48), np.uint8), votes=votes, names=np.array(["a.png", "b.png"]))
    faces = read_ferplus(path)
    assert len(faces) == 2 and faces.notes["no_expression_majority"] == 1
    assert faces.aus.shape == (2, 12) and (faces.aus == -1).all()


def test_ferplus_reader_refuses_a_file_that_is_not_fer_plus(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((2, 48, 48), np.uint8))
    with pytest.raises(DataError, match="votes"):
        read_ferplus(path)


def test_ckplus_maps_facs_codes_onto_the_twelve_abaw_aus_and_emotions():
    numbers = [1, 2, 4, 5, 6, 7, 9, 10, 12, 15, 17, 23, 24, 25, 26]
    present = np.zeros((1, len(numbers)), np.uint8)
    for au in (6, 12, 25):  # a smile with parted lips
        present[0, numbers.index(au)] = 1
    aus = ckplus_aus(numbers, present)
    on = [ACTION_UNITS[j] for j in np.flatnonzero(aus[0] == 1)]
    assert on == ["AU06", "AU12", "AU25"]
    assert (aus[0] >= 0).all()
    # an AU the file does not code is missing (-1), not absent
    assert ckplus_aus([1, 2], np.ones((1, 2)))[0].tolist().count(-1) == 10


def test_ckplus_reader_keeps_subjects_for_grouped_splits(tmp_path):
    path = tmp_path / "ck.npz"
    np.savez(path, images=np.zeros((4, 48, 48), np.uint8), subjects=np.array(["S1", "S1", "S2", "S3"]),
             emotions=np.array(["happy", "contempt", "sadness", "surprise"]), aus=np.zeros((4, 3), np.uint8),
             au_numbers=np.array([1, 12, 25]), names=np.array(["a", "b", "c", "d"]))
    faces = read_ckplus(path)
    assert faces.expression.tolist() == [E["happiness"], E["other"], E["sadness"], E["surprise"]]
    assert faces.groups.tolist() == ["S1", "S1", "S2", "S3"]
    assert faces.soft.sum(axis=1).tolist() == [1, 1, 1, 1]


def test_grouped_split_never_puts_one_subject_on_both_sides():
    groups = np.array([f"S{i // 3}" for i in range(300)])
    tr, va = split_groups(groups, 0.2, seed=0)
    assert set(groups[tr]).isdisjoint(groups[va])
    assert len(set(groups[va])) == 20 and len(tr) + len(va) == 300


def test_csv_folder_reader_maps_names_and_skips_unreadable_images(tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.full((60, 50, 3), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "images" / "b.png"), np.full((40, 40), 90, np.uint8))
    (tmp_path / "images" / "broken.jpg").write_bytes(b"not an image")
    (tmp_path / "labels.csv").write_text("image,emotion,contributor\na.jpg,HAPPINESS,1\nb.png,contempt,2\n"
                                         "broken.jpg,anger,3\nmissing.jpg,fear,4\n")
    faces = read_csv_folder(tmp_path / "labels.csv")
    assert faces.expression.tolist() == [E["happiness"], E["other"]]
    assert faces.notes["unreadable_images"] == 2
    assert faces.images[0].shape == (60, 50, 3) and faces.images[1].shape == (40, 40)


def test_csv_folder_reader_refuses_unknown_emotions(tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.full((20, 20, 3), 128, np.uint8))
    (tmp_path / "labels.csv").write_text("image,emotion\na.jpg,boredom\n")
    with pytest.raises(DataError, match="boredom"):
        read_csv_folder(tmp_path / "labels.csv")


def test_rated_csv_reads_valence_arousal_and_paths_relative_to_the_csv(tmp_path):
    """DiffusionFER's layout: an ``expression`` column, ``valence``/``arousal`` ratings, ``images/x.jpg`` paths."""
    import cv2

    from trainers.faces_recipe import va_targets

    (tmp_path / "images").mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        cv2.imwrite(str(tmp_path / "images" / name), np.full((30, 30, 3), 128, np.uint8))
    (tmp_path / "labels.csv").write_text("image,valence,arousal,expression\nimages/a.jpg,0.6,0.3,happy\n"
                                         "images/b.jpg,-0.4,0.1,sadness\nimages/c.jpg,,,neutral\n")
    faces = read_csv_folder(tmp_path / "labels.csv")
    assert faces.expression.tolist() == [E["happiness"], E["sadness"], E["neutral"]]
    assert faces.rated.tolist() == [True, True, False]
    np.testing.assert_allclose(faces.va[:2], [[0.6, 0.3], [-0.4, 0.1]], atol=1e-6)
    targets = va_targets(faces)
    np.testing.assert_allclose(targets[:2], [[0.6, 0.3], [-0.4, 0.1]], atol=1e-6)  # the ratings where given
    np.testing.assert_allclose(targets[2], [0.0, 0.0], atol=1e-6)  # derived (neutral) elsewhere
    assert faces.subset([1]).va.tolist() == [[pytest.approx(-0.4), pytest.approx(0.1)]]


def test_rated_csv_refuses_ratings_outside_the_scale(tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.full((30, 30, 3), 128, np.uint8))
    (tmp_path / "labels.csv").write_text("image,valence,arousal,expression\na.jpg,7,0.3,happy\n")
    with pytest.raises(DataError, match=r"labels.csv:2: valence/arousal \(7.0, 0.3\) outside"):
        read_csv_folder(tmp_path / "labels.csv")


def test_va_targets_are_the_expression_weighted_circumplex_centroids():
    dist = np.zeros((4, 8), np.float32)
    dist[0, E["neutral"]] = 1
    dist[1, E["happiness"]] = 1
    dist[2, [E["happiness"], E["neutral"]]] = 0.5
    va = va_from_expression(dist)
    assert va[0].tolist() == [0.0, 0.0]
    assert va[1] == pytest.approx(VA_CENTROIDS[E["happiness"]])
    assert va[2] == pytest.approx(VA_CENTROIDS[E["happiness"]] / 2)
    assert va[3].tolist() == [-5.0, -5.0]  # no distribution: the ABAW missing marker
    assert va[1, 0] > 0.5 and VA_CENTROIDS[E["sadness"], 0] < -0.5 and VA_CENTROIDS[E["sadness"], 1] < 0
    assert VA_CENTROIDS.shape == (len(EXPRESSIONS), 2)


def test_blendshape_au_teacher_learns_a_separable_au_and_ignores_missing_codes():
    from trainers.au_teacher import BlendshapeAUTeacher

    rng = np.random.default_rng(0)
    shapes = rng.uniform(0, 1, (200, 52)).astype(np.float32)
    aus = np.full((200, 12), -1, np.int8)
    aus[:, 6] = (shapes[:, 44] > 0.5).astype(np.int8)  # AU12 follows mouthSmileLeft
    teacher = BlendshapeAUTeacher.fit(shapes, aus)
    p = teacher(shapes)
    assert ((p[:, 6] > 0.5) == (shapes[:, 44] > 0.5)).mean() > 0.95
    shapes[0] = np.nan
    assert np.isnan(teacher(shapes)[0]).all()


def test_a_checked_au_teacher_switches_off_the_aus_the_blendshapes_do_not_show():
    from trainers.au_teacher import BlendshapeAUTeacher, _auc

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 5)                    # 40 subjects, 5 faces each
    shapes = rng.uniform(0, 1, (200, 52)).astype(np.float32)
    aus = np.zeros((200, 12), np.int8)
    aus[:, 6] = (shapes[:, 44] > 0.5).astype(np.int8)       # AU12 follows mouthSmileLeft
    aus[:, 5] = (rng.uniform(0, 1, 200) > 0.8).astype(np.int8)  # AU10: in no blendshape
    aus[:, 0] = -1                                          # AU01 never coded
    teacher = BlendshapeAUTeacher.fit_checked(shapes, aus, groups, min_auc=0.7)
    assert teacher.cv_auc[6] > 0.9 and teacher.cv_auc[5] < 0.7 and np.isnan(teacher.cv_auc[0])
    assert teacher.usable[6] and not teacher.usable[5] and not teacher.usable[0]
    p = teacher(shapes)
    assert np.isnan(p[:, [0, 5]]).all() and np.isfinite(p[:, 6]).all()
    assert ((p[:, 6] > 0.5) == (shapes[:, 44] > 0.5)).mean() > 0.95
    assert _auc(np.array([1, 1, 0, 0, -1]), np.array([0.9, 0.5, 0.5, 0.1, 0.0])) == pytest.approx(0.875)


def test_expression_report_by_hand():
    truth = np.array([0, 0, 4, 4, 2, -1])
    prob = np.eye(8)[[0, 4, 4, 4, 0, 3]]
    r = expression_report(prob, truth)
    assert r["faces"] == 5 and r["accuracy"] == pytest.approx(3 / 5)
    assert r["recall"] == {"neutral": 0.5, "disgust": 0.0, "happiness": 1.0}
    # F1: neutral tp1 fp1 fn1 -> 0.5; happiness tp2 fp1 -> 0.8; disgust 0
    assert r["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert r["confusion"][2][0] == 1 and r["confusion"][0][4] == 1


def test_au_report_by_hand_only_counts_aus_that_occur():
    truth = np.full((4, 12), 0, np.int8)
    truth[:, 0] = [1, 1, 0, 0]
    truth[:, 1] = [1, 0, -1, -1]
    prob = np.zeros((4, 12))
    prob[:, 0] = [0.9, 0.2, 0.7, 0.1]  # tp1 fn1 fp1 -> F1 0.5
    prob[:, 1] = [0.8, 0.1, 0.9, 0.9]  # rows 2, 3 are missing: tp1 -> F1 1.0
    r = au_report(prob, truth)
    assert r["f1"] == {"AU01": 0.5, "AU02": 1.0}
    assert r["macro_f1"] == pytest.approx(0.75)
