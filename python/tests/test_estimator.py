"""The scikit-learn estimator: input formats, sklearn tools, every model family."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

import sympair
from conftest import cluster_items, cluster_pairs


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@pytest.fixture(scope="module")
def data():
    X, y = cluster_pairs(n=600, d=8, seed=1)
    return X[:450], y[:450], X[450:], y[450:]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _, _ = data
    return sympair.PairClassifier(epochs=40, learning_rate=3e-3).fit(X, y)


def test_learns_a_cluster_task_and_methods_have_sklearn_shapes(data, fitted):
    _, _, Xt, yt = data
    proba = fitted.predict_proba(Xt)
    assert proba.shape == (len(Xt), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(fitted.predict(Xt))) <= {0, 1}
    assert fitted.decision_function(Xt).shape == (len(Xt),)
    assert fitted.score(Xt, yt) > 0.8
    assert fitted.evaluate(Xt, yt)["roc_auc"] > 0.85
    assert fitted.n_features_in_ == 16 and fitted.dim_ == 8


def test_every_input_format_gives_the_same_logits(data, fitted):
    _, _, Xt, _ = data
    ref = fitted.decision_function(Xt)
    x, y = Xt[:, 0], Xt[:, 1]
    variants = {
        "tuple of strided views": (x, y),
        "tuple of C copies": (np.ascontiguousarray(x), np.ascontiguousarray(y)),
        "tuple of Fortran copies": (np.asfortranarray(x), np.asfortranarray(y)),
        "[x | y] 2-d": np.concatenate([x, y], axis=1),
        "float64 3-d": Xt.astype(np.float64),
        "Fortran 3-d": np.asfortranarray(Xt),
        "every other row of a bigger array": np.repeat(Xt, 2, axis=0)[::2],
        "list": Xt.tolist(),
    }
    for name, X in variants.items():
        np.testing.assert_array_equal(bits(fitted.decision_function(X)), bits(ref), err_msg=name)


def test_item_indexed_input_matches_dense_pairs():
    items, ids, y = cluster_items(seed=2)
    clf = sympair.PairClassifier(epochs=3).fit(ids, y, items=items)
    dense = items[ids]  # (n, 2, d)
    np.testing.assert_array_equal(bits(clf.decision_function(ids)), bits(clf.decision_function(dense)))
    assert clf.evaluate(ids, y)["n"] == len(ids)
    # And training on dense copies of the same pairs gives the same model.
    clf2 = sympair.PairClassifier(epochs=3).fit(dense, y)
    assert clf2.model_ == clf.model_


def test_clone_cross_val_score_and_grid_search_over_combiner_and_hidden(data):
    X, y, _, _ = data
    est = sympair.PairClassifier(epochs=20, learning_rate=3e-3)
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "model_")
    scores = cross_val_score(est, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.7)
    grid = GridSearchCV(
        est,
        {"combiner": ["abs_diff", "concat_swap_average", ("sum", "abs_diff")], "hidden": [(16,), (32, 8)]},
        cv=2,
    ).fit(X, y)
    assert grid.best_params_["combiner"] in ["abs_diff", "concat_swap_average", ("sum", "abs_diff")]
    assert grid.best_estimator_.model_.input_dim == 8


def test_set_params_changes_the_model(data):
    X, y, _, _ = data
    est = sympair.PairClassifier(epochs=1).set_params(combiner="product", hidden=(8,))
    est.fit(X, y)
    assert est.model_.combiner == "product"
    assert est.model_.n_params == 8 * 8 + 8 + 8 + 1


FAMILIES = [
    dict(combiner=c) for c in sympair.COMBINERS
] + [
    dict(combiner=s, hidden=()) for s in sympair.SIMILARITIES
] + [
    dict(combiner=("sum", "product", "abs_diff")),
    dict(combiner="abs_diff", encoder=(16, 4)),
    dict(combiner="product", encoder=(6,), hidden=()),
    dict(combiner="squared_diff", encoder=(8,), head="distance"),
    dict(combiner="abs_diff", head="distance", learn_scale=False),
    dict(combiner="concat_swap_average", activation="gelu", hidden=(8, 8)),
]


@pytest.mark.parametrize("params", FAMILIES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_every_family_is_reachable_and_symmetric_ones_are_bitwise_symmetric(data, params):
    X, y, Xt, _ = data
    clf = sympair.PairClassifier(epochs=2, **params).fit(X, y)
    z = clf.decision_function(Xt)
    z_swapped = clf.decision_function(Xt[:, ::-1, :])
    if params["combiner"] == "concat":
        assert not clf.model_.is_symmetric
        assert np.any(z != z_swapped)
    else:
        assert clf.model_.is_symmetric
        np.testing.assert_array_equal(bits(z), bits(z_swapped))
    report = clf.evaluate(Xt, data[3])
    assert report["asymmetry"]["max"] == (0.0 if clf.model_.is_symmetric else report["asymmetry"]["max"])


def test_score_all_pairs_and_top_k_agree_with_pairwise_prediction(fitted):
    rng = np.random.default_rng(3)
    items = rng.normal(size=(30, 8)).astype(np.float32)
    i, j, logits = fitted.score_all_pairs(items)
    assert len(i) == 30 * 29 // 2 and np.all(i < j)
    direct = fitted.model_.predict_logits(items[i], items[j])
    np.testing.assert_array_equal(bits(logits), bits(direct))  # abs_diff: no fast path, exact
    queries = items[:5]
    idx, top = fitted.top_k(queries, items, 4)
    assert idx.shape == top.shape == (5, 4)
    for q in range(5):
        scores = fitted.model_.predict_logits(np.repeat(queries[q:q + 1], 30, axis=0), items)
        best = np.argsort(-scores, kind="stable")[:4]
        np.testing.assert_array_equal(idx[q], best)
    idx_all, _ = fitted.top_k(queries, items, 1000)
    assert idx_all.shape == (5, 30)


def test_pickle_joblib_and_save_load_round_trips_are_bit_identical(data, fitted, tmp_path):
    _, _, Xt, _ = data
    ref = fitted.decision_function(Xt)
    for clone_ in [
        pickle.loads(pickle.dumps(fitted)),
        pickle.loads(pickle.dumps(fitted.model_)) and sympair.PairClassifier.from_model(pickle.loads(pickle.dumps(fitted.model_))),
    ]:
        np.testing.assert_array_equal(bits(clone_.decision_function(Xt)), bits(ref))
    joblib.dump(fitted, tmp_path / "m.joblib")
    np.testing.assert_array_equal(bits(joblib.load(tmp_path / "m.joblib").decision_function(Xt)), bits(ref))
    fitted.save(str(tmp_path / "m.json"))
    loaded = sympair.PairClassifier.load(str(tmp_path / "m.json"))
    np.testing.assert_array_equal(bits(loaded.decision_function(Xt)), bits(ref))
    assert sympair.load(str(tmp_path / "m.json")) == fitted.model_


def test_same_seed_same_weights_and_other_seed_other_weights(data):
    X, y, _, _ = data
    a = sympair.PairClassifier(epochs=2, random_state=4).fit(X, y)
    b = sympair.PairClassifier(epochs=2, random_state=4).fit(X, y)
    c = sympair.PairClassifier(epochs=2, random_state=5).fit(X, y)
    assert a.model_.to_json_bytes() == b.model_.to_json_bytes()
    assert a.model_.to_json_bytes() != c.model_.to_json_bytes()


def test_string_labels_map_to_classes(data):
    X, y, Xt, _ = data
    names = np.array(["different", "same"])[y]
    clf = sympair.PairClassifier(epochs=2).fit(X, names)
    assert list(clf.classes_) == ["different", "same"]
    assert set(clf.predict(Xt)) <= {"different", "same"}


def test_item_pairs_split_by_item_keeps_items_apart():
    items, ids, y = cluster_items(n_items=200, n_pairs=1500, seed=5)
    data = sympair.ItemPairs(items, ids, y)
    train, test, report = data.split_by_item(0.7, 1)
    assert not set(report["first_items"]) & set(report["second_items"])
    assert len(train) + len(test) + report["cross_pairs_dropped"] == len(data)
    model = sympair.Model(8, "concat_swap_average")
    hist = model.fit(train, test, epochs=3)
    assert len(hist["epochs"]) == 3 and hist["epochs"][-1]["valid_auc"] is not None
    np.testing.assert_array_equal(
        bits(model.logits_for(test)), bits(model.predict_logits_ids(items, test.pairs))
    )


def test_id_pair_precompute_modes_agree_within_1e5_and_reject_unknown_names():
    rng = np.random.default_rng(7)
    items = rng.normal(size=(200, 8)).astype(np.float32)
    ids = rng.integers(0, 200, size=(3000, 2))
    model = sympair.Model(8, "concat_swap_average", seed=3)
    never = model.predict_logits_ids(items, ids, precompute="never")
    for mode in ("auto", "always"):
        got = model.predict_logits_ids(items, ids, precompute=mode)
        np.testing.assert_allclose(got, never, rtol=0, atol=1e-5)
    # "always" gives the same bits whatever the call's size (Spark partitions rely on it).
    part = model.predict_logits_ids(items, ids[:7], precompute="always")
    whole = model.predict_logits_ids(items, ids, precompute="always")
    np.testing.assert_array_equal(bits(part), bits(whole[:7]))
    with pytest.raises(ValueError, match="precompute"):
        model.predict_logits_ids(items, ids, precompute="sometimes")


@pytest.mark.parametrize("n_pairs", [1, 255, 256, 257, 5000])
def test_id_pair_prediction_equals_dense_prediction_bitwise_at_any_size(n_pairs):
    rng = np.random.default_rng(n_pairs)
    items = rng.normal(size=(300, 8)).astype(np.float32)
    ids = rng.integers(0, 300, size=(n_pairs, 2))
    model = sympair.Model(8, "concat", seed=2)  # order-dependent: a swapped pair would show
    got = model.predict_logits_ids(items, ids, precompute="never")
    want = model.predict_logits(items[ids[:, 0]], items[ids[:, 1]])
    np.testing.assert_array_equal(bits(got), bits(want))


def test_consistency_penalty_reduces_concat_asymmetry(data):
    X, y, Xt, yt = data
    plain = sympair.PairClassifier(combiner="concat", epochs=10).fit(X, y)
    tied = sympair.PairClassifier(combiner="concat", epochs=10, consistency=1.0).fit(X, y)
    assert tied.evaluate(Xt, yt)["asymmetry"]["max"] < plain.evaluate(Xt, yt)["asymmetry"]["max"]


@pytest.mark.parametrize(
    "params",
    [
        dict(epochs=0), dict(epochs=-1), dict(batch_size=0), dict(learning_rate=float("nan")),
        dict(learning_rate=-1.0), dict(weight_decay=-1.0), dict(pos_weight=0.0), dict(consistency=-1.0),
        dict(patience=0), dict(hidden=(0,)), dict(hidden=5), dict(encoder=()), dict(head="tree"),
        dict(combiner=""), dict(random_state=-1), dict(random_state="x"),
    ],
)
def test_invalid_hyperparameters_raise_on_fit(data, params):
    X, y, _, _ = data
    with pytest.raises((ValueError, TypeError, OverflowError)):
        sympair.PairClassifier(**params).fit(X, y)


def test_misaligned_and_byte_swapped_float32_inputs_are_copied_and_score_the_same():
    X, _ = cluster_pairs(n=100, d=8, seed=11)
    model = sympair.Model(8, "concat", seed=1)
    ref = model.predict_logits_stacked(X)
    buf = bytearray(X.nbytes + 1)
    odd = np.frombuffer(buf, dtype=np.float32, offset=1, count=X.size).reshape(X.shape)
    odd[...] = X
    assert not odd.flags.aligned
    np.testing.assert_array_equal(bits(model.predict_logits_stacked(odd)), bits(ref))
    np.testing.assert_array_equal(bits(model.predict_logits_stacked(X.astype(">f4"))), bits(ref))
    neg = X[::-1]
    np.testing.assert_array_equal(bits(model.predict_logits_stacked(neg)), bits(ref[::-1]))
