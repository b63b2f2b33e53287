"""Metrics against an independent, hand-rolled computation."""
import numpy as np
import pytest

from trainers.metrics import abaw_metrics, ccc, macro_f1_au, macro_f1_expression


def test_ccc_of_identical_shifted_and_opposite_series():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert ccc(x, x) == pytest.approx(1.0)
    centred = x - x.mean()
    assert ccc(centred, -centred) == pytest.approx(-1.0)
    # shifted by 1: cov = var = 1.25, so 2.5 / (1.25 + 1.25 + 1)
    assert ccc(x, x + 1) == pytest.approx(2.5 / 3.5)


def test_macro_f1_expression_counts_every_class():
    truth = np.array([0, 0, 1, 1, 2, -1])
    pred = np.array([0, 1, 1, 1, 0, 5])
    # class 0: tp1 fp1 fn1 -> 0.5; class 1: tp2 fp1 fn0 -> 0.8; class 2: tp0 -> 0; classes 3..7 -> 0
    assert macro_f1_expression(pred, truth, classes=8) == pytest.approx((0.5 + 0.8) / 8)


def test_macro_f1_au_skips_missing_entries():
    truth = np.array([[1, 0], [0, -1], [1, 1]])
    prob = np.array([[0.9, 0.2], [0.7, 0.9], [0.2, 0.8]])
    # AU a: pred 1,1,0 vs 1,0,1 -> tp1 fp1 fn1 -> 0.5 ; AU b (rows 0, 2): pred 0,1 vs 0,1 -> 1.0
    assert macro_f1_au(prob, truth) == pytest.approx(0.75)


def test_p_mtl_is_mean_ccc_plus_both_f1():
    rng = np.random.default_rng(0)
    va_true = rng.uniform(-1, 1, (50, 2))
    va_pred = va_true + rng.normal(0, 0.3, (50, 2))
    expr_true = rng.integers(0, 8, 50)
    expr_prob = np.eye(8)[expr_true] * 0.6 + 0.05
    au_true = rng.integers(0, 2, (50, 12))
    au_prob = au_true * 0.8 + 0.1
    m = abaw_metrics(expr_prob, expr_true, au_prob, au_true, va_pred, va_true)
    expected = (ccc(va_pred[:, 0], va_true[:, 0]) + ccc(va_pred[:, 1], va_true[:, 1])) / 2 + 1.0 + 1.0
    assert m["f1_expression"] == pytest.approx(1.0) and m["f1_au"] == pytest.approx(1.0)
    assert m["p_mtl"] == pytest.approx(expected)
