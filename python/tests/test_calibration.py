"""Calibration and decision threshold from Python: the Rust model's own, bit for bit.

The Rust side of the parity tests is `examples/python_parity.rs` (`decide`: the crate's
`predict_proba` and `predict`; `calibrate`: the crate's `calibrate` and `set_threshold`)."""

import pickle
import subprocess

import joblib
import numpy as np
import pytest

import sympair
from conftest import cluster_items, cluster_pairs

RULES = ["max_f1", "max_accuracy", ("target_precision", 0.8)]


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def split(n=900, d=8, seed=0, noise=1.6):
    """Train, validation and test pairs of one overlapping task (so calibration matters)."""
    X, y = cluster_pairs(n=n, d=d, seed=seed, noise=noise)
    a, b = n // 2, 3 * n // 4
    return (X[:a], y[:a]), (X[a:b], y[a:b]), (X[b:], y[b:])


def fitted(calibration="platt", threshold="max_f1", **kw):
    (Xt, yt), (Xv, yv), _ = split()
    params = dict(epochs=4, batch_size=32, random_state=1)
    params.update(kw)
    clf = sympair.PairClassifier(calibration=calibration, threshold=threshold, **params)
    return clf.fit(Xt, yt, eval_set=(Xv, yv))


def rust_decide(parity_bin, tmp_path, model_path, X):
    np.save(tmp_path / "x.npy", np.ascontiguousarray(X[:, 0]))
    np.save(tmp_path / "y.npy", np.ascontiguousarray(X[:, 1]))
    out = tmp_path / "decide.npy"
    subprocess.run(
        [parity_bin, "decide", str(model_path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), str(out)],
        check=True,
        capture_output=True,
    )
    both = np.load(out)
    return both[:, 0], both[:, 1] == 1.0


@pytest.mark.parametrize("method", ["platt", "temperature"])
@pytest.mark.parametrize("rule", RULES, ids=str)
def test_predict_proba_and_predict_bit_identical_to_rust_with_calibration_and_threshold(
    parity_bin, tmp_path, method, rule
):
    clf = fitted(calibration=method, threshold=rule)
    assert clf.calibration_["method"] == method
    assert clf.model_.threshold_rule == rule
    _, _, (Xs, _) = split()
    clf.save(str(tmp_path / "m.json"))
    p_rust, c_rust = rust_decide(parity_bin, tmp_path, tmp_path / "m.json", Xs)
    proba = clf.predict_proba(Xs)
    assert proba.shape == (len(Xs), 2)
    np.testing.assert_array_equal(bits(proba[:, 1]), bits(p_rust))
    # float64 column 1 holds the float32 values exactly.
    np.testing.assert_array_equal(proba[:, 1], p_rust.astype(np.float64))
    np.testing.assert_array_equal(clf.predict(Xs) == clf.classes_[1], c_rust)
    # Not a vacuous comparison: the calibrated probabilities differ from sigmoid(logit).
    z = clf.decision_function(Xs).astype(np.float64)
    assert np.max(np.abs(proba[:, 1] - 1.0 / (1.0 + np.exp(-z)))) > 1e-3
    # The Model API gives the same as the estimator.
    m = clf.model_
    np.testing.assert_array_equal(bits(m.predict_proba(Xs[:, 0], Xs[:, 1])), bits(p_rust))
    np.testing.assert_array_equal(m.predict(Xs[:, 0], Xs[:, 1]), c_rust)


@pytest.mark.parametrize("method", ["platt", "temperature"])
@pytest.mark.parametrize("rule", RULES, ids=str)
def test_calibrate_and_set_threshold_write_the_same_file_as_rust(parity_bin, tmp_path, method, rule):
    (Xt, yt), (Xv, yv), _ = split(seed=3)
    model = sympair.Model(8, "abs_diff", seed=2)
    model.fit((Xt[:, 0], Xt[:, 1], yt.astype(np.float32)), epochs=3, batch_size=32)
    model.save(str(tmp_path / "raw.json"))
    for name, a in [("vx", Xv[:, 0]), ("vy", Xv[:, 1]), ("vl", yv.astype(np.float32)[:, None])]:
        np.save(tmp_path / f"{name}.npy", np.ascontiguousarray(a))
    rust_rule = rule if isinstance(rule, str) else f"precision:{rule[1]}"
    subprocess.run(
        [parity_bin, "calibrate", str(tmp_path / "raw.json"), str(tmp_path / "vx.npy"),
         str(tmp_path / "vy.npy"), str(tmp_path / "vl.npy"), method, rust_rule, str(tmp_path / "rust.json")],
        check=True,
        capture_output=True,
    )
    valid = sympair.PairDataset(Xv[:, 0], Xv[:, 1], yv)
    model.calibrate(valid, method)
    model.set_threshold(rule, valid)
    assert model.to_json_bytes() == (tmp_path / "rust.json").read_bytes()


def test_predict_is_exactly_proba_at_least_threshold():
    _, _, (Xs, _) = split()
    for threshold in ["max_f1", ("target_precision", 0.9), 0.3]:
        clf = fitted(threshold=threshold)
        p = clf.predict_proba(Xs)[:, 1].astype(np.float32)
        expected = np.where(p >= np.float32(clf.threshold_), clf.classes_[1], clf.classes_[0])
        np.testing.assert_array_equal(clf.predict(Xs), expected)
    assert clf.threshold_ == np.float32(0.3)
    assert clf.model_.threshold_rule == "manual"


def test_predict_proba_applies_a_calibration_set_by_hand():
    clf = fitted(calibration=None, threshold=None)
    _, _, (Xs, _) = split()
    z = clf.decision_function(Xs)
    clf.model_.set_calibration({"method": "platt", "a": 2.0, "b": -1.0})
    assert clf.calibration_ == {"method": "platt", "a": 2.0, "b": -1.0}
    np.testing.assert_array_equal(clf.decision_function(Xs), z)  # logits stay raw
    expected = 1.0 / (1.0 + np.exp(-(2.0 * z.astype(np.float64) - 1.0)))
    np.testing.assert_allclose(clf.predict_proba(Xs)[:, 1], expected, rtol=0, atol=1e-6)
    clf.model_.set_calibration({"method": "temperature", "t": 4.0})
    expected = 1.0 / (1.0 + np.exp(-(z.astype(np.float64) / 4.0)))
    np.testing.assert_allclose(clf.predict_proba(Xs)[:, 1], expected, rtol=0, atol=1e-6)
    clf.model_.set_calibration(None)
    assert clf.calibration_ is None
    for bad in [{"method": "platt", "a": -1.0, "b": 0.0}, {"method": "temperature", "t": 0.0},
                {"method": "isotonic"}, {"method": "platt", "a": 1.0}]:
        with pytest.raises(ValueError):
            clf.model_.set_calibration(bad)
    with pytest.raises(TypeError):
        clf.model_.set_calibration("platt")


def test_calibration_lowers_validation_log_loss_and_keeps_ranking():
    (Xt, yt), (Xv, yv), _ = split()
    raw = sympair.PairClassifier(epochs=30, batch_size=32, random_state=1).fit(Xt, yt)
    cal = sympair.PairClassifier(epochs=30, batch_size=32, random_state=1, calibration="platt")
    cal.fit(Xt, yt, eval_set=(Xv, yv))

    def log_loss(p, y):
        p = np.clip(p, 1e-7, 1 - 1e-7)
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

    assert log_loss(cal.predict_proba(Xv)[:, 1], yv) < log_loss(raw.predict_proba(Xv)[:, 1], yv)
    assert np.array_equal(
        np.argsort(cal.predict_proba(Xv)[:, 1], kind="stable"),
        np.argsort(cal.decision_function(Xv), kind="stable"),
    )


def test_target_precision_is_reached_on_the_validation_pairs():
    clf = fitted(threshold=("target_precision", 0.85))
    choice = clf.threshold_choice_
    assert choice["value"] >= 0.85
    assert choice["threshold"] == clf.threshold_
    (_, _), (Xv, yv), _ = split()
    pred = clf.predict(Xv) == clf.classes_[1]
    assert np.sum(pred & (yv == 1)) / np.sum(pred) >= 0.85


def test_unreachable_precision_raises_value_error_and_keeps_the_model():
    clf = fitted(threshold="max_f1")
    (_, _), (Xv, yv), _ = split()
    before = clf.model_.to_json_bytes()
    # The most probable pair labelled 0: every cut-off admits it, none reaches precision 1.
    labels = yv.astype(np.float32)
    labels[np.argmax(clf.predict_proba(Xv)[:, 1])] = 0.0
    with pytest.raises(ValueError, match="precision"):
        clf.model_.set_threshold(("target_precision", 1.0), (Xv[:, 0], Xv[:, 1], labels))
    assert clf.model_.to_json_bytes() == before


def test_calibrating_removes_the_stored_threshold():
    clf = fitted(threshold="max_accuracy")
    assert clf.model_.threshold_rule == "max_accuracy"
    (_, _), (Xv, yv), _ = split()
    clf.model_.calibrate((Xv[:, 0], Xv[:, 1], yv.astype(np.float32)), "temperature")
    assert clf.model_.threshold_rule is None
    assert clf.threshold_ == 0.5
    assert clf.calibration_["method"] == "temperature" and clf.calibration_["t"] > 0


def test_pickle_joblib_and_save_keep_calibration_and_threshold(tmp_path):
    clf = fitted(calibration="platt", threshold=("target_precision", 0.8))
    _, _, (Xs, _) = split()
    expected = clf.predict_proba(Xs)
    for copy in [
        pickle.loads(pickle.dumps(clf)),
        joblib.load(joblib.dump(clf, tmp_path / "m.joblib")[0]),
        pickle.loads(pickle.dumps(clf.model_)),
    ]:
        model = copy.model_ if isinstance(copy, sympair.PairClassifier) else copy
        assert model.calibration == clf.calibration_
        assert model.threshold == clf.threshold_
        assert model.threshold_rule == ("target_precision", 0.8)
        assert model == clf.model_
    clf.save(str(tmp_path / "m.json"))
    loaded = sympair.PairClassifier.load(str(tmp_path / "m.json"))
    assert loaded.calibration_ == clf.calibration_ and loaded.threshold_ == clf.threshold_
    np.testing.assert_array_equal(loaded.predict_proba(Xs), expected)
    np.testing.assert_array_equal(loaded.predict(Xs), clf.predict(Xs))


def test_calibration_without_validation_pairs_raises_before_training():
    (Xt, yt), _, _ = split()
    for params in [dict(calibration="platt"), dict(threshold="max_f1")]:
        clf = sympair.PairClassifier(epochs=1, **params)
        with pytest.raises(ValueError, match="validation"):
            clf.fit(Xt, yt)
        assert not hasattr(clf, "model_")
    # A threshold given as a probability needs no validation pairs.
    clf = sympair.PairClassifier(epochs=1, threshold=0.7).fit(Xt, yt)
    assert clf.threshold_ == np.float32(0.7)


@pytest.mark.parametrize(
    "params",
    [
        dict(calibration="isotonic"),
        dict(threshold="max_recall"),
        dict(threshold=("target_precision", 1.5)),
        dict(threshold=("target_recall", 0.5)),
        dict(threshold=0.0),
        dict(threshold=1.2),
        dict(threshold=float("nan")),
        dict(validation_fraction=0.0),
        dict(validation_fraction=1.0),
    ],
    ids=str,
)
def test_bad_decision_parameters_raise_value_error(params):
    (Xt, yt), _, _ = split()
    with pytest.raises(ValueError):
        sympair.PairClassifier(epochs=1, validation_fraction=params.pop("validation_fraction", 0.2), **params).fit(Xt, yt)


def test_validation_fraction_holds_out_pairs_for_calibration_and_early_stopping():
    (Xt, yt), _, _ = split()
    clf = sympair.PairClassifier(
        epochs=3, batch_size=32, calibration="platt", threshold="max_f1", validation_fraction=0.25
    ).fit(Xt, yt)
    assert clf.calibration_["method"] == "platt"
    assert clf.threshold_choice_["confusion"]
    held = sum(clf.threshold_choice_["confusion"].values())
    assert held == round(0.25 * np.sum(yt == 1)) + round(0.25 * np.sum(yt == 0))
    assert all(e["valid_auc"] is not None for e in clf.history_["epochs"])
    # The same random_state holds out the same pairs: the same model.
    again = sympair.PairClassifier(**clf.get_params())
    assert again.fit(Xt, yt).model_ == clf.model_


def test_item_indexed_predict_proba_matches_dense_pairs_with_calibration():
    items, ids, y = cluster_items(n_items=150, n_pairs=900, seed=2)
    clf = sympair.PairClassifier(
        epochs=3, batch_size=32, calibration="temperature", threshold="max_f1", validation_fraction=0.3
    ).fit(ids, y, items=items)
    dense = np.stack([items[ids[:, 0]], items[ids[:, 1]]], axis=1)
    np.testing.assert_allclose(clf.predict_proba(ids), clf.predict_proba(dense), rtol=0, atol=1e-5)
    p = clf.predict_proba(ids)[:, 1].astype(np.float32)
    np.testing.assert_array_equal(clf.predict(ids) == clf.classes_[1], p >= np.float32(clf.threshold_))


def test_grid_search_over_calibration_and_threshold():
    from sklearn.model_selection import GridSearchCV

    Xt, yt = cluster_pairs(n=600, seed=1)
    grid = GridSearchCV(
        sympair.PairClassifier(epochs=5, batch_size=32, validation_fraction=0.2),
        {"calibration": [None, "platt"], "threshold": [None, "max_accuracy"]},
        cv=2,
        error_score="raise",
    ).fit(Xt, yt)
    assert set(grid.best_params_) == {"calibration", "threshold"}
