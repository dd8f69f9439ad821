"""`sympair.Clusterer`, `cluster`, `cluster_metrics` and `canonicalize`: entities from
scored pairs, scored against true groups, checked against scipy, scikit-learn and
brute-force definitions."""

import numpy as np
import pytest

import sympair
from sympair import CandidateSearch, Clusterer


def first_seen(labels):
    """Labels renumbered 0, 1, ... in order of each label's first item."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse]


def test_pairs_at_or_above_the_threshold_link_their_items():
    c = Clusterer(5, 0.5)
    assert c.add([0, 2, 3], [1, 1, 4], [0.9, 0.5, 0.2]) == 2  # 0.5 is "at"
    assert (c.pairs_seen, c.pairs_linked) == (3, 2)
    np.testing.assert_array_equal(c.labels(), [0, 0, 0, 1, 2])
    assert [g.tolist() for g in c.groups()] == [[0, 1, 2]]
    assert [g.tolist() for g in c.groups(1)] == [[0, 1, 2], [3], [4]]
    c.add(np.array([4]), np.array([3]), np.array([0.7], dtype=np.float64))
    np.testing.assert_array_equal(c.labels(), [0, 0, 0, 1, 1])


def test_labels_equal_scipy_connected_components():
    sparse = pytest.importorskip("scipy.sparse")
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(4)
    n, m = 500, 700
    i, j = rng.integers(0, n, m), rng.integers(0, n, m)
    p = rng.random(m).astype(np.float32)
    t = 0.6
    keep = p >= t
    graph = sparse.coo_matrix((np.ones(keep.sum()), (i[keep], j[keep])), shape=(n, n))
    _, want = connected_components(graph, directed=False)
    got = sympair.cluster(i, j, p, n, threshold=t)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, first_seen(want))


def brute_force_metrics(pred, truth):
    n = len(pred)
    iu = np.triu_indices(n, 1)
    same_p = pred[iu[0]] == pred[iu[1]]
    same_t = truth[iu[0]] == truth[iu[1]]
    tp = int((same_p & same_t).sum())
    fp, fn = int((same_p & ~same_t).sum()), int((~same_p & same_t).sum())
    both = (pred[:, None] == pred[None, :]) & (truth[:, None] == truth[None, :])
    bp = np.mean(both.sum(1) / (pred[:, None] == pred[None, :]).sum(1))
    br = np.mean(both.sum(1) / (truth[:, None] == truth[None, :]).sum(1))
    return tp, fp, fn, bp, br


def test_cluster_metrics_equal_their_definitions_and_sklearn_ari():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 40, 300)
    pred = np.where(rng.random(300) < 0.8, truth, rng.integers(0, 60, 300)) * 3 - 50
    m = sympair.cluster_metrics(pred, truth)
    tp, fp, fn, bp, br = brute_force_metrics(pred, truth)
    assert (m["tp"], m["fp"], m["fn"]) == (tp, fp, fn)
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == 300 * 299 // 2
    assert m["pair_precision"] == pytest.approx(tp / (tp + fp))
    assert m["pair_recall"] == pytest.approx(tp / (tp + fn))
    assert m["pair_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert m["bcubed_precision"] == pytest.approx(bp)
    assert m["bcubed_recall"] == pytest.approx(br)
    assert m["bcubed_f1"] == pytest.approx(2 * bp * br / (bp + br))
    assert m["adjusted_rand"] == pytest.approx(metrics.adjusted_rand_score(truth, pred))
    assert (m["n_predicted"], m["n_true"]) == (len(set(pred)), len(set(truth)))


def test_cluster_metrics_take_labels_of_any_type():
    m = sympair.cluster_metrics(np.array([0, 0, 1, 2]), np.array(["a", "a", "b", "b"]))
    assert m["pair_precision"] == 1.0 and m["pair_recall"] == 0.5
    same = sympair.cluster_metrics([1.5, 1.5, 2.5], [9, 9, 8])
    assert same["adjusted_rand"] == 1.0 and same["bcubed_f1"] == 1.0


def test_clustering_the_candidate_search_output_recovers_the_groups(tmp_path):
    # A distance model ranks like its index: every item's partners are its group.
    rng = np.random.default_rng(0)
    g = np.arange(300) // 5
    items = (rng.normal(size=(60, 6)) * 4.0)[g] + 0.05 * rng.normal(size=(300, 6))
    model = sympair.Model(6, combiner="squared_diff", head="distance", seed=0)
    search = CandidateSearch(model, items.astype(np.float32), 4, build_threads=1)
    partners, probs = search.top_k()
    threshold = float(np.min(probs)) / 2  # keep every top-4 pair
    a = Clusterer(300, threshold)
    assert a.add_top_k(partners, probs) == partners.size
    i, j, p = sympair.top_k_pairs(partners, probs)
    b = sympair.cluster(i, j, p, 300, threshold)
    c = Clusterer(300, threshold)
    search.write_top_k_csv(tmp_path / "top.csv")
    assert c.add_csv(tmp_path / "top.csv") == partners.size
    np.testing.assert_array_equal(a.labels(), b)
    np.testing.assert_array_equal(c.labels(), b)
    np.testing.assert_array_equal(b, g)  # the groups, numbered in order
    m = sympair.cluster_metrics(b, g)
    assert m["adjusted_rand"] == 1.0 and m["pair_precision"] == 1.0
    # Rows of `queries` and padding.
    d = Clusterer(300, threshold)
    d.add_top_k(np.array([[1, -1]]), np.array([[0.9, np.nan]]), queries=[7])
    assert d.pairs_seen == 1 and d.labels()[7] == d.labels()[1]


def test_canonicalize_matches_a_set_of_sorted_pairs():
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 30, size=(400, 2))
    pairs, dropped = sympair.canonicalize(raw)
    want = sorted({(min(a, b), max(a, b)) for a, b in raw.tolist() if a != b})
    assert pairs.dtype == np.int64 and pairs.shape == (len(want), 2)
    assert [tuple(r) for r in pairs.tolist()] == want
    self_pairs = int((raw[:, 0] == raw[:, 1]).sum())
    assert dropped == {"self_pairs": self_pairs, "repeats": 400 - self_pairs - len(want)}
    empty, d = sympair.canonicalize(np.zeros((0, 2), dtype=np.int32))
    assert empty.shape == (0, 2) and d == {"self_pairs": 0, "repeats": 0}


# ---------------------------------------------------------------------------------------
# Hostile input
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, t, match",
    [
        (0, 0.5, "items"),
        (-1, 0.5, "n_items"),
        (5, -0.1, "threshold"),
        (5, 1.1, "threshold"),
        (5, float("nan"), "threshold"),
    ],
)
def test_bad_clusterer_settings_raise_value_error(n, t, match):
    with pytest.raises(ValueError, match=match):
        Clusterer(n, t)


def test_a_bad_pair_raises_and_adds_nothing():
    c = Clusterer(4, 0.5)
    c.add([0], [1], [0.9])
    cases = [
        (([0, 2], [1, 4], [0.9, 0.9]), ValueError, "4"),  # id out of range
        (([0, -2], [1, 3], [0.9, 0.9]), ValueError, "negative"),
        (([0, 2], [1, 3], [0.9, np.nan]), ValueError, "probability"),
        (([0, 2], [1, 3], [0.9, np.inf]), ValueError, "probability"),
        (([0, 2], [1], [0.9, 0.9]), ValueError, "j"),
        (([0, 2], [1, 3], [0.9]), ValueError, "probabilities"),
        (([[0, 2]], [1, 3], [0.9, 0.9]), ValueError, "1-dimensional"),
        (([0.5], [1], [0.9]), TypeError, "integer"),
    ]
    for args, exc, match in cases:
        with pytest.raises(exc, match=match):
            c.add(*args)
        assert (c.pairs_seen, c.pairs_linked) == (1, 1)
    with pytest.raises(ValueError, match="shape"):
        c.add_top_k(np.array([[1, 2]]), np.array([[0.9]]))
    with pytest.raises(ValueError, match="negative"):
        c.add_top_k(np.array([[-3]]), np.array([[0.9]]))
    with pytest.raises(ValueError, match="queries"):
        c.add_top_k(np.array([[1]]), np.array([[0.9]]), queries=[0, 1])
    assert c.pairs_seen == 1
    np.testing.assert_array_equal(c.labels(), [0, 0, 1, 2])


def test_bad_csv_raises(tmp_path):
    c = Clusterer(3, 0.5)
    with pytest.raises(FileNotFoundError):
        c.add_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("i,j,p\n0,1,0.9\n")
    with pytest.raises(ValueError, match="probability"):
        c.add_csv(bad)
    bad.write_text("i,j,probability\n0,x,0.9\n")
    with pytest.raises(ValueError, match="line 2"):
        c.add_csv(bad)


def test_bad_metric_and_canonicalize_input_raise():
    with pytest.raises(ValueError, match="truth"):
        sympair.cluster_metrics([0, 1], [0, 1, 2])
    with pytest.raises(ValueError):
        sympair.cluster_metrics([], [])
    with pytest.raises(ValueError, match="1-dimensional"):
        sympair.cluster_metrics([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="negative"):
        sympair.canonicalize(np.array([[0, -1]]))
    with pytest.raises(ValueError, match="shape"):
        sympair.canonicalize(np.array([[0, 1, 2]]))
    with pytest.raises(TypeError):
        sympair.canonicalize(np.array([[0.5, 1.0]]))
