"""The decision layer of `sympair.Ensemble` (calibration of the averaged raw logit, a
stored threshold, classes, evaluation): the same names and rules as on `Model`, and the
crate's `Ensemble` underneath (`tests/ensemble_decision.rs` on the Rust side)."""

import pickle

import numpy as np
import pytest

import sympair
from conftest import REPO, cluster_items, cluster_pairs

RULES = ["max_f1", "max_accuracy", ("target_precision", 0.8)]
# A small grid that learns the item task (symmetric combiner).
SMALL = dict(
    combiners=["abs_diff"], hidden=[(8,)], learning_rates=[1e-2], batch_size=64, max_epochs=3
)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def as_data(X, y):
    """The `(x, y, labels)` tuple form of a labelled dataset."""
    return (X[:, 0], X[:, 1], y.astype(np.float32))


@pytest.fixture(scope="module")
def split():
    """Train, validation and test pairs of one overlapping task (calibration matters)."""
    X, y = cluster_pairs(n=900, d=8, seed=0, noise=1.2)
    return as_data(X[:450], y[:450]), as_data(X[450:675], y[450:675]), as_data(X[675:], y[675:])


def members(train, k=3, combiner="abs_diff"):
    out = []
    for s in range(k):
        m = sympair.Model(8, combiner, hidden=[16], seed=s)
        m.fit(train, epochs=6, batch_size=32, learning_rate=1e-2, seed=s)
        out.append(m)
    return out


@pytest.fixture(scope="module")
def raw(split):
    """A trained ensemble without a decision; tests take copies (the class is mutable)."""
    return sympair.Ensemble(members(split[0]))


def copy(ens):
    return sympair.Ensemble.from_json_bytes(ens.to_json_bytes())


@pytest.mark.parametrize("method", ["platt", "temperature"])
def test_calibrated_proba_is_the_calibration_of_the_mean_raw_logit_bitwise(raw, split, method):
    _, valid, (xs, ys, _) = split
    ens = copy(raw)
    cal = ens.calibrate(valid, method)
    assert cal["method"] == method and ens.calibration == cal
    # Fitted on the mean raw logits: a one-member ensemble fits what its model fits.
    one, model = sympair.Ensemble([raw.members[0]]), raw.members[0]
    assert one.calibrate(valid, method) == model.calibrate(valid, method)
    # Logits stay raw; probabilities are the (model's own) calibration of the mean logit.
    z = ens.predict_logits(xs, ys)
    assert np.array_equal(bits(z), bits(raw.predict_logits(xs, ys)))
    reference = sympair.Model(8)
    reference.set_calibration(cal)
    p = ens.predict_proba(xs, ys)
    assert p.dtype == np.float32
    assert np.array_equal(bits(p), bits(reference.proba_from_logits(z)))
    assert np.array_equal(bits(p), bits(ens.proba_from_logits(z)))
    # Not vacuous: calibration moved the probabilities.
    assert np.max(np.abs(p - raw.predict_proba(xs, ys))) > 1e-3


def test_members_calibrations_are_ignored(raw, split):
    _, valid, (xs, ys, _) = split
    ms = raw.members
    ms[1].calibrate(valid, "platt")
    ens = sympair.Ensemble(ms)
    assert np.array_equal(bits(ens.predict_proba(xs, ys)), bits(raw.predict_proba(xs, ys)))
    assert ens.calibration is None and ens.threshold == 0.5


@pytest.mark.parametrize("rule", RULES, ids=str)
@pytest.mark.parametrize("method", [None, "platt"])
def test_predict_is_proba_at_least_the_threshold(raw, split, rule, method):
    _, valid, (xs, ys, _) = split
    ens = copy(raw)
    if method:
        ens.calibrate(valid, method)
    choice = ens.set_threshold(rule, valid)
    assert ens.threshold == np.float32(choice["threshold"])
    assert ens.threshold_rule == rule
    # On the pairs it was chosen on, predict gives the rule's confusion counts.
    pred = ens.predict(valid[0], valid[1])
    assert pred.dtype == np.bool_
    labels = valid[2] == 1.0
    assert int(np.sum(pred & labels)) == choice["confusion"]["tp"]
    assert int(np.sum(pred & ~labels)) == choice["confusion"]["fp"]
    for x, y in ((valid[0], valid[1]), (xs, ys)):
        p = ens.predict_proba(x, y)
        np.testing.assert_array_equal(ens.predict(x, y), p >= np.float32(ens.threshold))


def test_threshold_by_hand_and_cleared(raw, split):
    _, _, (xs, ys, _) = split
    ens = copy(raw)
    assert ens.threshold == 0.5 and ens.threshold_rule is None
    ens.set_threshold_probability(0.3)
    assert ens.threshold == np.float32(0.3) and ens.threshold_rule == "manual"
    np.testing.assert_array_equal(ens.predict(xs, ys), ens.predict_proba(xs, ys) >= np.float32(0.3))
    ens.clear_threshold()
    assert ens.threshold == 0.5 and ens.threshold_rule is None
    # Calibrating again removes a threshold chosen on the old scale, as on Model.
    ens.set_threshold_probability(0.3)
    ens.set_calibration({"method": "temperature", "t": 2.0})
    assert ens.threshold_rule is None and ens.calibration == {"method": "temperature", "t": 2.0}
    ens.set_calibration(None)
    assert ens.calibration is None


def test_symmetric_selected_ensemble_stays_bitwise_symmetric_after_calibration():
    items, ids, y = cluster_items(n_items=40, n_pairs=300)
    ens, _ = sympair.select(items, ids, y, folds=2, ensemble=3, **SMALL)
    assert isinstance(ens, sympair.Ensemble) and ens.is_symmetric
    data = sympair.ItemPairs(items, ids, y.astype(np.float32))
    ens.calibrate(data, "platt")
    ens.set_threshold("max_f1", data)
    x, z = items[ids[:, 0]], items[ids[:, 1]]
    assert np.array_equal(bits(ens.predict_proba(x, z)), bits(ens.predict_proba(z, x)))
    assert np.array_equal(ens.predict(x, z), ens.predict(z, x))
    # The item path is calibrated too: "never" is the dense path bit for bit.
    assert np.array_equal(
        bits(ens.predict_proba_ids(items, ids, "never")), bits(ens.predict_proba(x, z))
    )
    for mode in ("auto", "always", "never"):
        assert np.array_equal(
            bits(ens.predict_proba_ids(items, ids, mode)),
            bits(ens.predict_proba_ids(items, ids[:, ::-1], mode)),
        )
    assert ens.evaluate(data)["asymmetry"]["max"] == 0.0


def test_evaluate_measures_the_ensemble_as_model_evaluate_measures_a_model(raw, split):
    _, valid, test = split
    model = raw.members[0]
    one = sympair.Ensemble([model])
    for target in (model, one):
        target.calibrate(valid, "temperature")
        target.set_threshold("max_accuracy", valid)
    assert one.evaluate(test) == model.evaluate(test)
    ens = copy(raw)
    ens.calibrate(valid, "platt")
    ens.set_threshold("max_f1", valid)
    report = ens.evaluate(test)
    assert set(report) == set(model.evaluate(test))
    assert report["at_threshold"]["probability"] == np.float32(ens.threshold)
    pred = ens.predict(test[0], test[1])
    assert report["at_threshold"]["confusion"]["tp"] == int(np.sum(pred & (test[2] == 1.0)))


def test_save_load_pickle_and_eq_keep_the_decision(raw, split, tmp_path):
    _, valid, (xs, ys, _) = split
    ens = copy(raw)
    ens.calibrate(valid, "platt")
    ens.set_threshold(("target_precision", 0.8), valid)
    assert ens != raw, "the decision is part of equality"
    path = tmp_path / "ens.json"
    ens.save(path)
    for back in (
        sympair.Ensemble.load(path),
        pickle.loads(pickle.dumps(ens)),
        sympair.Ensemble.from_json_bytes(ens.to_json_bytes()),
    ):
        assert back == ens and back.to_json_bytes() == ens.to_json_bytes()
        assert back.calibration == ens.calibration and back.threshold == ens.threshold
        assert back.threshold_rule == ("target_precision", 0.8)
        assert np.array_equal(bits(back.predict_proba(xs, ys)), bits(ens.predict_proba(xs, ys)))
        assert np.array_equal(back.predict(xs, ys), ens.predict(xs, ys))


def test_ensemble_file_from_before_the_decision_loads_and_predicts_the_same():
    path = REPO / "tests" / "data" / "ensemble_v1_abs_diff.json"
    ens = sympair.Ensemble.load(path)
    assert ens.calibration is None and ens.threshold == 0.5 and ens.threshold_rule is None
    x = np.array([[0.5, -1.25, 2.0, 0.75], [1.0, 1.0, 1.0, 1.0], [-0.3, 0.0, 0.9, -2.1]], np.float32)
    y = np.array([[-0.5, 0.25, 1.5, -0.75], [1.0, 1.0, 1.0, 1.0], [2.2, -1.7, 0.4, 0.6]], np.float32)
    # Pinned when the file was written, by the code before ensembles had a decision.
    assert bits(ens.predict_logits(x, y)).tolist() == [0xBE8532A0, 0x3B3BD65B, 0xBF130BEE]
    assert bits(ens.predict_proba(x, y)).tolist() == [0x3EDEE319, 0x3F002EF6, 0x3EB86F04]
    assert ens.predict(x, y).tolist() == [False, True, False]
    assert ens.to_json_bytes() == path.read_bytes()


def test_bad_input_raises_typed_errors_and_leaves_the_ensemble_unchanged(raw, split):
    _, (xv, yv, lv), _ = split
    ens = copy(raw)
    ens.set_threshold_probability(0.3)
    before = ens.to_json_bytes()
    with pytest.raises(ValueError, match="calibration"):
        ens.calibrate((xv, yv, np.ones_like(lv)), "platt")
    with pytest.raises(ValueError, match="calibration"):
        ens.calibrate((xv, yv, 1.0 - lv), "temperature")
    with pytest.raises(ValueError, match="unknown calibration method"):
        ens.calibrate((xv, yv, lv), "isotonic")
    with pytest.raises(ValueError):
        ens.calibrate((xv[:, :5], yv[:, :5], lv), "platt")
    with pytest.raises(ValueError, match="threshold rule"):
        ens.set_threshold("max_magic", (xv, yv, lv))
    with pytest.raises(ValueError):
        ens.set_threshold("max_f1", (xv, yv, np.zeros_like(lv)))
    for p in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match="threshold"):
            ens.set_threshold_probability(p)
    with pytest.raises(TypeError, match="calibration"):
        ens.set_calibration(1.5)
    with pytest.raises(ValueError, match="calibration"):
        ens.set_calibration({"method": "platt", "a": -1.0, "b": 0.0})
    with pytest.raises(ValueError):
        ens.predict(xv[:, :5], yv[:, :5])
    with pytest.raises(ValueError):
        ens.evaluate((xv[:, :5], yv[:, :5], lv))
    assert ens.to_json_bytes() == before, "a refused call leaves the ensemble unchanged"
