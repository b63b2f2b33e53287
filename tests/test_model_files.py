import numpy as np
import pytest
import torch

from realtime_affect.models.card import CardError, ModelCard
from realtime_affect.models.loader import open_model
from realtime_affect.models.checkpoint import ModelFileError, load_checkpoint, save_checkpoint
from realtime_affect.models.student import StudentNet


def test_checkpoint_round_trip_keeps_card_and_outputs(tiny_model):
    with open_model(tiny_model) as model:
        x = np.random.default_rng(0).normal(size=(3, 3, 112, 112)).astype(np.float32)
        out = model.student(x)
        assert out["features"].shape == (3, 16)
        np.testing.assert_allclose(out["expression"].sum(1), 1.0, atol=1e-5)
        assert ((out["action_units"] >= 0) & (out["action_units"] <= 1)).all()
        assert (np.abs(out["valence_arousal"]) <= 1).all()
        seq = model.sequence(np.zeros((2, 32, 16), np.float32))
        assert seq["expression"].shape == (2, 32, 8) and seq["action_units"].shape == (2, 32, 12)
        assert model.card.name == "tiny-test" and model.card.window == 32


def test_a_corrupt_model_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelFileError, match="broken.pt"):
        load_checkpoint(bad)


def test_a_model_with_other_labels_is_refused(tmp_path):
    card = ModelCard(feature_dim=16, expressions=("a", "b", "c", "d", "e", "f", "g", "h"))
    path = save_checkpoint(tmp_path / "labels.pt", card, StudentNet("tiny", 16))
    with pytest.raises(ModelFileError, match="expression labels"):
        load_checkpoint(path)


def test_a_card_with_an_absurd_window_is_refused():
    with pytest.raises(CardError, match="window"):
        ModelCard(window=0).check_compatible()


def test_card_survives_json():
    card = ModelCard(name="x", mean=(0.1, 0.2, 0.3), window=16, extra={"note": 1})
    again = ModelCard.from_json(card.to_json())
    assert again == card


def test_a_truncated_checkpoint_is_refused(tmp_path, tiny_model):
    data = tiny_model.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="cut.pt"):
        load_checkpoint(cut)


def test_weights_that_do_not_fit_are_refused(tmp_path):
    payload_path = save_checkpoint(tmp_path / "m.pt", ModelCard(feature_dim=16), StudentNet("tiny", 16))
    payload = torch.load(payload_path, weights_only=True)
    payload["student"]["arch"] = "small"
    torch.save(payload, payload_path)
    with pytest.raises(ModelFileError, match="do not fit"):
        load_checkpoint(payload_path)
