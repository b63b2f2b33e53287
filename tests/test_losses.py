"""Every loss against numbers computed by hand from the papers' formulas; empty tasks give zero, not NaN."""
import math

import numpy as np
import pytest
import torch

from trainers import losses as L


def test_class_weights_are_n_over_nc():
    w = L.class_weights(torch.tensor([10, 30, 0, 60]))
    assert w.tolist() == pytest.approx([10.0, 100 / 30, 0.0, 100 / 60])


def test_weighted_cross_entropy_by_hand():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([0, 2, -1])
    weight = torch.tensor([1.0, 1.0, 3.0])
    # sample 0: -log(e^2 / (e^2 + 2)); sample 1: -log(1 / (2 + e)); weighted mean with weights 1 and 3
    l0 = -math.log(math.e ** 2 / (math.e ** 2 + 2))
    l1 = -math.log(1 / (2 + math.e))
    expected = (1 * l0 + 3 * l1) / 4
    assert float(L.expression_ce(logits, target, weight)) == pytest.approx(expected, rel=1e-6)


def test_bce_with_pos_weight_by_hand_and_missing_rows():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0], [5.0, 5.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    pos_weight = torch.tensor([3.0, 0.5])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    terms = [3.0 * -math.log(sig(0.0)), -math.log(1 - sig(2.0)), -math.log(1 - sig(1.0)), 0.5 * -math.log(sig(-1.0))]
    assert float(L.au_bce(logits, target, pos_weight)) == pytest.approx(sum(terms) / 4, rel=1e-6)


def test_au_pos_weight_is_negatives_over_positives():
    assert L.au_pos_weight(torch.tensor([10, 0]), torch.tensor([30, 5])).tolist() == [3.0, 1.0]


def test_ccc_loss_by_hand():
    x = torch.tensor([[0.1, 0.0], [0.3, 0.0], [0.5, 0.0], [0.9, 9.0]])
    y = torch.tensor([[0.0, -5.0], [0.4, -5.0], [0.4, -5.0], [1.0, -5.0]])
    xs, ys = np.array([0.1, 0.3, 0.5, 0.9]), np.array([0.0, 0.4, 0.4, 1.0])
    cov = ((xs - xs.mean()) * (ys - ys.mean())).mean()
    ccc = 2 * cov / (xs.var() + ys.var() + (xs.mean() - ys.mean()) ** 2)
    # arousal is missing everywhere: only valence counts
    assert float(L.ccc_loss(x, y)) == pytest.approx(1 - ccc, rel=1e-5)


@pytest.mark.parametrize("fn, args", [
    (L.expression_ce, (torch.randn(4, 8, requires_grad=True), torch.full((4,), -1))),
    (L.au_bce, (torch.randn(4, 12, requires_grad=True), torch.full((4, 12), -1.0))),
    (L.ccc_loss, (torch.randn(4, 2, requires_grad=True), torch.full((4, 2), -5.0))),
])
def test_a_task_without_any_label_gives_zero_not_nan(fn, args):
    loss = fn(*args)
    assert float(loss.detach()) == 0.0
    loss.backward()  # the graph stays connected (DDP needs every parameter used)
    assert args[0].grad is not None and torch.isfinite(args[0].grad).all()


def test_symmetric_kl_by_hand():
    p, q = torch.tensor([[0.5, 0.5]]), torch.tensor([[0.9, 0.1]])
    expected = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1) + 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert float(L.symmetric_kl(p, q)) == pytest.approx(expected, rel=1e-5)


def test_adaptive_thresholds_follow_the_paper():
    probs = torch.tensor([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.9, 0.1]])
    labels = torch.tensor([0, 0, 0, 1])  # class 0: correct at rows 0, 1; class 1: none correct
    t = L.adaptive_thresholds(probs, labels, epoch=2, num_classes=2)
    assert float(t[0]) == pytest.approx(0.95 * 0.7 / (1 + math.e ** -2), rel=1e-6)
    assert float(t[1]) == 1.0


def test_semi_supervised_loss_splits_confident_and_unconfident():
    weak = torch.tensor([[3.0, 0.0], [0.1, 0.0]])
    strong = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    ce, kl = L.semi_supervised_expression_loss(weak, strong, torch.tensor([0.9, 0.9]))
    # row 0 is confident (p=0.953 >= 0.9) with pseudo-label 0; row 1 is not
    assert float(ce) == pytest.approx(-math.log(math.e / (math.e + 1)), rel=1e-6)
    pw, ps = torch.softmax(weak[1:], -1), torch.softmax(strong[1:], -1)
    assert float(kl) == pytest.approx(float(L.symmetric_kl(pw, ps)), rel=1e-6)


def test_distillation_kl_by_hand_and_lambda_mix():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # softmax = (0.25, 0.75)
    teacher = torch.tensor([[0.5, 0.5]])
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    kl = L.distillation_kl(logits, teacher, temperature=1.0)
    assert float(kl) == pytest.approx(expected, rel=1e-6)
    sup = torch.tensor(2.0)
    assert float(L.distilled(sup, kl, True)) == pytest.approx(0.6 * 2 + 0.4 * expected, rel=1e-6)
    assert float(L.distilled(sup, kl, False)) == pytest.approx(expected, rel=1e-6)


def test_va_bins_and_binned_loss():
    v = torch.tensor([[-1.0, 0.99], [0.0, -5.0]])
    assert L.va_bins(v, 4).tolist() == [[0, 3], [2, -1]]
    logits = torch.zeros(2, 2, 4, requires_grad=True)
    loss = L.va_binned_loss(logits, v)
    assert torch.isfinite(loss) and float(loss.detach()) > 0


def test_js_consistency_is_zero_for_equal_views_and_log2_bounded():
    a = torch.randn(5, 8)
    assert float(L.js_consistency(a, a)) == pytest.approx(0.0, abs=1e-6)
    far = L.js_consistency(torch.tensor([[50.0, 0.0]]), torch.tensor([[0.0, 50.0]]))
    assert float(far) == pytest.approx(math.log(2), rel=1e-4)


def test_mixup_blends_faces_and_targets_and_drops_half_known_action_units():
    from trainers.faces_recipe import mixup_batch

    n = 6
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4).clone()
    soft = torch.eye(8)[:n]
    aus = torch.full((n, 12), -1.0)
    aus[:3] = 1.0  # only the first three faces have AU labels
    batch = {"soft": soft, "va": torch.zeros(n, 2), "aus": aus, "au_teacher": torch.full((n, 12), float("nan")),
             "expression": torch.arange(n)}
    mixed_x, mixed = mixup_batch(x, batch, torch.Generator().manual_seed(3), alpha=0.4)
    lam = float(mixed["soft"].max(1).values[0])
    assert 0.5 <= lam <= 1.0
    assert torch.allclose(mixed["soft"].sum(1), torch.ones(n))  # still a distribution
    for i in range(n):  # each face is lam of itself and 1 - lam of its partner, its target the same
        partner = i if float(mixed["soft"][i].max()) > 0.9999 else int(mixed["soft"][i].argsort()[-2])
        assert float(mixed_x[i, 0, 0, 0]) == pytest.approx(lam * i + (1 - lam) * partner, abs=1e-5)
        both_known = i < 3 and partner < 3
        assert bool((mixed["aus"][i] >= 0).all()) == both_known
    assert torch.equal(mixed["expression"], batch["expression"])  # the main face's class weight applies


def test_au_positive_weights_lift_rare_action_units_only_where_labelled():
    from trainers.faces_recipe import au_positive_weights

    aus = np.full((100, 12), -1, np.int8)
    aus[:40, 0] = 0
    aus[40:50, 0] = 1          # AU 0: 40 negatives, 10 positives -> (4) ** 0.5 = 2
    aus[:50, 1] = 1            # AU 1: positives only -> 1
    aus[:99, 2] = 0
    aus[99, 2] = 1             # AU 2: 99 to 1 -> capped at 20 with power 1
    w = au_positive_weights(aus, 0.5)
    assert w[0] == pytest.approx(2.0) and w[1] == 1.0 and w[3] == 1.0  # no label at all: 1
    assert au_positive_weights(aus, 1.0)[2] == 20.0
    assert (au_positive_weights(aus, 0.0) == 1.0).all()


def test_an_open_teacher_without_other_shares_the_labels_non_other_mass_and_averages_with_ours():
    from realtime_affect.labels import EXPRESSIONS
    from trainers.faces_recipe import ensemble_teacher

    other, anger, disgust = (EXPRESSIONS.index(n) for n in ("other", "anger", "disgust"))
    soft = np.zeros((3, 8), np.float32)
    soft[0, anger] = 1.0
    soft[1, other], soft[1, anger] = 0.5, 0.5
    soft[2, disgust] = 1.0
    open_t = np.zeros((3, 8), np.float32)
    open_t[:, disgust] = 1.0  # the open teacher reads disgust everywhere ("other" is 0: it has no such class)
    open_t[2] = np.nan        # not read
    t = ensemble_teacher(None, open_t, soft)
    assert t[0, disgust] == pytest.approx(1.0) and t[0, other] == 0.0
    assert t[1, disgust] == pytest.approx(0.5) and t[1, other] == pytest.approx(0.5)  # labels keep "other"
    assert np.array_equal(t[2], soft[2])  # not read: the labels
    own = np.full((3, 8), 1 / 8, np.float32)
    both = ensemble_teacher(own, open_t, soft)
    assert both[0, disgust] == pytest.approx(0.5 * (1.0 + 1 / 8)) and np.array_equal(both[2], own[2])
    assert np.allclose(both.sum(1), 1.0)


def test_the_open_teacher_weighs_more_only_where_it_confidently_reads_anger_or_disgust_against_the_labels():
    from realtime_affect.labels import EXPRESSIONS
    from trainers.faces_recipe import confident_teacher_weights, distilled_targets

    neutral, anger, disgust, happy = (EXPRESSIONS.index(n) for n in ("neutral", "anger", "disgust", "happiness"))
    soft = np.zeros((6, 8), np.float32)
    soft[:, neutral] = 1.0
    soft[4, neutral], soft[4, anger] = 0.0, 1.0
    t = np.full((6, 8), 0.02, np.float32)
    t[0, anger] = 0.86      # confident anger on a face the votes call neutral: the teacher gets more say
    t[1, disgust] = 0.86    # the same for disgust
    t[2, anger] = 0.45      # anger, but not confident
    t[3, happy] = 0.86      # confident, but not a chosen class
    t[4, anger] = 0.86      # confident anger where the labels agree: nothing to correct
    t[5] = np.nan           # not read by the teacher
    w = confident_teacher_weights(soft, t, base=0.4, confident=0.8, classes=("anger", "disgust"), min_prob=0.6)
    np.testing.assert_allclose(w, [0.8, 0.8, 0.4, 0.4, 0.4, 0.4])
    sad = soft.copy()
    sad[1, neutral], sad[1, EXPRESSIONS.index("sadness")] = 0.0, 1.0  # voted sad: left alone with over=neutral
    w_over = confident_teacher_weights(sad, t, 0.4, 0.8, ("anger", "disgust"), 0.6, over=("neutral",))
    np.testing.assert_allclose(w_over, [0.8, 0.4, 0.4, 0.4, 0.4, 0.4])
    mixed = distilled_targets(soft, np.where(np.isfinite(t), t, soft), w)
    assert mixed[0, anger] == pytest.approx(0.8 * 0.86) and mixed[2, anger] == pytest.approx(0.4 * 0.45)
    np.testing.assert_allclose(mixed[3], 0.6 * soft[3] + 0.4 * t[3], rtol=1e-6)


def test_the_faces_given_the_teacher_more_say_are_counted_by_the_class_their_votes_put_first():
    from realtime_affect.labels import EXPRESSIONS
    from trainers.faces_recipe import count_by_label

    neutral, sad = EXPRESSIONS.index("neutral"), EXPRESSIONS.index("sadness")
    soft = np.zeros((5, 8), np.float32)
    soft[[0, 1, 4], neutral] = 1.0
    soft[[2, 3], sad] = 0.7
    soft[[2, 3], neutral] = 0.3
    assert count_by_label(soft, np.array([True, True, True, False, False])) == "neutral 2, sadness 1"
    assert count_by_label(soft, np.array([False, False, True, True, True])) == "sadness 2, neutral 1"
    assert count_by_label(soft, np.zeros(5, bool)) == "none"


def test_confident_teacher_options_are_refused_without_a_teacher_or_with_unknown_classes(tmp_path):
    from trainers.data import DataError
    from trainers.faces_recipe import FacesConfig, train_faces

    with pytest.raises(DataError, match="--distill-teacher"):
        train_faces(FacesConfig(data=tmp_path, out=tmp_path / "run", distill_confident_weight=0.8))
    with pytest.raises(DataError, match="unknown or no class"):
        train_faces(FacesConfig(data=tmp_path, out=tmp_path / "run", distill_teacher="face-api",
                                distill_confident_weight=0.8, distill_confident_classes=("rage",)))


def test_the_command_line_takes_the_confident_teacher_classes_and_refuses_unknown_ones():
    from trainers.cli import build_parser

    args = build_parser().parse_args(["faces", "--data", "d", "--out", "o", "--distill-teacher", "face-api",
                                      "--distill-confident-weight", "0.8", "--distill-confident-classes", "anger"])
    assert args.distill_confident_classes == ("anger",) and args.distill_confident_weight == 0.8
    with pytest.raises(SystemExit):
        build_parser().parse_args(["faces", "--data", "d", "--out", "o", "--distill-confident-classes", "rage"])
