"""``expr_confidence``: the top expression's probability after the card's temperature scaling."""
from __future__ import annotations

import numpy as np
import pytest

from realtime_affect.models.card import ModelCard
from realtime_affect.types import calibrated_confidence


def test_temperature_scaling_keeps_the_top_class_and_moves_its_confidence():
    p = np.array([0.6, 0.2, 0.1, 0.05, 0.02, 0.01, 0.01, 0.01])
    assert calibrated_confidence(p, 1.0) == pytest.approx(0.6)
    sharper, softer = calibrated_confidence(p, 0.6), calibrated_confidence(p, 2.0)
    assert sharper > 0.6 > softer > 1 / 8
    assert calibrated_confidence(np.full(8, 1 / 8), 0.5) == pytest.approx(1 / 8)


def test_the_card_carries_the_temperature_and_old_cards_read_as_uncalibrated():
    assert ModelCard.from_dict({"name": "old"}).expression_temperature == 1.0
    card = ModelCard.from_json(ModelCard(expression_temperature=0.6).to_json())
    assert card.expression_temperature == 0.6


def test_the_default_model_is_calibrated_and_rows_carry_the_confidence(cli, tmp_path):
    from realtime_affect.models.defaults import resolve_model
    from realtime_affect.models.loader import open_model

    with open_model(resolve_model(None, "auto")) as model:
        assert 0.3 < model.card.expression_temperature < 1.0  # fitted: the model was underconfident
    out = tmp_path / "o.csv"
    assert cli("--images", "tests/data/single_face.jpg", "--csv", str(out)).returncode == 0
    import csv

    (row,) = list(csv.DictReader(open(out, newline="")))
    top = max(float(v) for k, v in row.items() if k.startswith("expr_") and k != "expr_confidence")
    assert float(row["expr_confidence"]) >= top
