"""`sympair.CandidateSearch`: the crate's ANN candidate search from Python.

With every other item as a candidate the search is exact, so its top-k partners and its
pairs above a threshold must equal exhaustive scoring of all pairs (on an index built on
one thread: HNSW with parallel inserts occasionally leaves an item unreachable, which made
these comparisons fail in about 1 run of 5, as tests/candidates.rs found in Rust); with the defaults it
must agree with itself across dtypes, layouts, threads and output forms; bad input raises
typed exceptions."""

import numpy as np
import pytest

import sympair
from sympair import CandidateSearch

D = 8


def grouped_items(n=240, d=D, group=6, seed=0, dtype=np.float32):
    """Items in tight groups of `group` around spread-out centres; `(items, groups)`."""
    rng = np.random.default_rng(seed)
    g = np.arange(n) // group
    centres = rng.normal(size=(g.max() + 1, d)) * 3.0
    return (centres[g] + 0.1 * rng.normal(size=(n, d))).astype(dtype), g


MODELS = {
    "abs_diff": dict(combiner="abs_diff", hidden=[16], seed=1),
    "concat_swap_average": dict(combiner="concat_swap_average", hidden=[16], seed=2),
    "encoder_distance": dict(combiner="squared_diff", encoder=[6], head="distance", seed=3),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request):
    return sympair.Model(D, **MODELS[request.param])


@pytest.fixture(scope="module")
def items():
    return grouped_items()[0]


def exhaustive(model, items):
    """Every ordered pair's logit, by the crate's per-item scorer: `(n, n)`, diagonal -inf."""
    n = len(items)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ids = np.stack([ii.ravel(), jj.ravel()], 1)
    z = model.predict_logits_ids(items, ids, precompute="always").reshape(n, n)
    np.fill_diagonal(z, -np.inf)
    return z


def exhaustive_top_k(model, items, k):
    z = exhaustive(model, items)
    n = len(items)
    # Best first, ties by lower id: lexsort's last key is the primary one.
    order = np.array([np.lexsort((np.arange(n), -z[q]))[:k] for q in range(n)])
    return order, z


def test_top_k_with_every_item_a_candidate_equals_exhaustive_scoring(model, items):
    k, n = 5, len(items)
    search = CandidateSearch(model, items, k, candidates=n - 1, build_threads=1)
    partners, probs = search.top_k()
    assert partners.shape == probs.shape == (n, k)
    assert partners.dtype == np.int64 and probs.dtype == np.float32
    want, z = exhaustive_top_k(model, items, k)
    np.testing.assert_array_equal(partners, want)
    expected = sympair._sigmoid(np.take_along_axis(z, want, 1))
    np.testing.assert_allclose(probs, expected, rtol=1e-6, atol=1e-7)


def test_top_k_rows_are_best_first_without_the_item_itself(model, items):
    partners, probs = CandidateSearch(model, items, 4).top_k()
    assert not (partners == np.arange(len(items))[:, None]).any()
    assert ((partners >= 0) & (partners < len(items))).all()
    assert (np.diff(probs, axis=1) <= 0).all()
    assert all(len(set(row)) == len(row) for row in partners.tolist())


def test_default_search_finds_the_groups_of_a_distance_model(items):
    # For SquaredDiff + distance head the index ranks like the model: the 5 partners of
    # every item are its group (groups of 6, far apart).
    model = sympair.Model(D, combiner="squared_diff", head="distance", seed=0)
    partners, _ = CandidateSearch(model, items, 5, build_threads=1).top_k()
    groups = np.arange(len(items)) // 6
    assert (groups[partners] == groups[:, None]).all()


def test_queries_give_the_rows_of_the_full_search(model, items):
    search = CandidateSearch(model, items, 3, build_threads=1)
    full_p, full_q = search.top_k()
    queries = np.array([7, 0, 239, 7], dtype=np.int32)
    p, q = search.top_k(queries)
    np.testing.assert_array_equal(p, full_p[queries])
    np.testing.assert_array_equal(q.view(np.uint32), full_q[queries].view(np.uint32))
    assert search.top_k(np.array([], dtype=np.int64))[0].shape == (0, 3)


def test_float64_and_fortran_items_give_the_same_results_bitwise(model, items):
    ref = CandidateSearch(model, items, 4, build_threads=1).top_k()
    for other in (items.astype(np.float64), np.asfortranarray(items), items[::1, :]):
        got = CandidateSearch(model, other, 4, build_threads=1).top_k()
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1].view(np.uint32), ref[1].view(np.uint32))


def test_one_thread_builds_the_same_index_whatever_the_package_threads(model, items):
    try:
        sympair.set_num_threads(1)
        a = CandidateSearch(model, items, 4, build_threads=1).top_k()
        sympair.set_num_threads(2)
        b = CandidateSearch(model, items, 4, build_threads=1).top_k()
        c = CandidateSearch(model, items, 4).top_k()  # two threads build, then search
    finally:
        sympair.set_num_threads(0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1].view(np.uint32), b[1].view(np.uint32))
    assert c[0].shape == a[0].shape


def test_pairs_above_with_every_item_a_candidate_equal_exhaustive_pairs(model, items):
    n = len(items)
    z = exhaustive(model, items)
    p = sympair._sigmoid(z)
    iu = np.triu_indices(n, 1)
    t = float(np.quantile(p[iu], 0.97))
    search = CandidateSearch(model, items, 3, candidates=n - 1, build_threads=1)
    i, j, probs = search.pairs_above(t)
    assert i.dtype == j.dtype == np.int64 and probs.dtype == np.float32
    assert (i < j).all()
    assert len(set(zip(i.tolist(), j.tolist()))) == len(i)  # each pair once
    assert (probs >= t).all()
    got = set(zip(i.tolist(), j.tolist()))
    # Pairs within float32 rounding of the threshold may fall either way.
    clear = np.abs(p[iu] - t) > 1e-6
    want = {(a, b) for a, b, above in zip(*iu, p[iu] >= t) if above}
    near = {(a, b) for a, b, c in zip(*iu, clear) if not c}
    assert got - near == want - near
    np.testing.assert_allclose(probs, p[i, j], rtol=1e-6, atol=1e-7)


def test_csv_outputs_equal_the_arrays(model, items, tmp_path):
    search = CandidateSearch(model, items, 3, build_threads=1)
    partners, probs = search.top_k()
    path = tmp_path / "top.csv"
    assert search.write_top_k_csv(path) == partners.size
    assert path.read_text().startswith("i,j,probability\n")
    rows = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_array_equal(rows[:, 0], np.repeat(np.arange(len(items)), 3))
    np.testing.assert_array_equal(rows[:, 1], partners.ravel())
    np.testing.assert_allclose(rows[:, 2], probs.ravel(), rtol=1e-6)
    i, j, p = search.pairs_above(0.5)
    above = tmp_path / "above.csv"
    assert search.write_above_csv(str(above), 0.5) == len(i)
    rows = np.loadtxt(above, delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_array_equal(rows[:, :2], np.stack([i, j], 1))


def test_top_k_pairs_flattens_and_drops_padding():
    partners = np.array([[1, 2], [0, -1]])
    probs = np.array([[0.9, 0.8], [0.9, np.nan]], dtype=np.float32)
    i, j, p = sympair.top_k_pairs(partners, probs, queries=np.array([5, 6]))
    np.testing.assert_array_equal(i, [5, 5, 6])
    np.testing.assert_array_equal(j, [1, 2, 0])
    np.testing.assert_array_equal(p, np.array([0.9, 0.8, 0.9], dtype=np.float32))
    with pytest.raises(ValueError, match="queries"):
        sympair.top_k_pairs(partners, probs, queries=[1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        sympair.top_k_pairs(partners, probs[:, :1])


def test_properties_and_neighbours(model, items):
    search = CandidateSearch(model, items, 4, candidates=9, metric="cosine", build_threads=1)
    assert (search.n_items, search.k, search.candidates, len(search)) == (240, 4, 9, 240)
    assert search.metric == "cosine"
    assert search.index_bytes > items.nbytes
    nb = search.neighbours(3)
    assert nb.dtype == np.int64 and len(nb) == 9 and 3 not in nb
    assert "CandidateSearch(n_items=240" in repr(search)
    assert CandidateSearch(model, items, 2).metric in ("squared_l2", "cosine", "inner_product")


def test_estimator_candidate_search_uses_the_fitted_items():
    items, g = grouped_items(n=120)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, len(items), size=(600, 2))
    y = (g[ids[:, 0]] == g[ids[:, 1]]).astype(int)
    clf = sympair.PairClassifier(epochs=2, random_state=0).fit(ids, y, items=items)
    a = clf.candidate_search(k=3, build_threads=1).top_k()
    b = CandidateSearch(clf.model_, items, 3, build_threads=1).top_k()
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="items"):
        sympair.PairClassifier.from_model(clf.model_).candidate_search(k=3)


# ---------------------------------------------------------------------------------------
# Hostile input: typed exceptions, never a crash
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(k=0), "k"),
        (dict(k=-1), "k"),
        (dict(k=240), "k"),
        (dict(k=1000), "k"),
        (dict(k=5, candidates=4), "candidates"),
        (dict(k=5, candidates=-3), "candidates"),
        (dict(connectivity=1), "connectivity"),
        (dict(expansion_add=0), "expansion"),
        (dict(block=0), "block"),
        (dict(metric="manhattan"), "metric"),
        (dict(build_threads=0), "build_threads"),
    ],
)
def test_bad_settings_raise_value_error(items, kwargs, match):
    model = sympair.Model(D, seed=0)
    with pytest.raises(ValueError, match=match):
        CandidateSearch(model, items, **kwargs)


def test_bad_items_raise_typed_errors(items):
    model = sympair.Model(D, seed=0)
    with pytest.raises(ValueError, match="2-dimensional"):
        CandidateSearch(model, items[0], 3)
    with pytest.raises(ValueError, match="2-dimensional"):
        CandidateSearch(model, items[None], 3)
    with pytest.raises(ValueError, match="width|wide|dim"):
        CandidateSearch(model, items[:, :5], 3)
    with pytest.raises(ValueError):
        CandidateSearch(model, items[:0], 3)
    bad = items.copy()
    bad[17, 2] = np.nan
    with pytest.raises(ValueError, match="17"):
        CandidateSearch(model, bad, 3)
    bad[17, 2] = np.inf
    with pytest.raises(ValueError, match="17"):
        CandidateSearch(model, bad, 3)
    with pytest.raises(TypeError):
        CandidateSearch(model, np.array([["a"] * D] * 4), 2)
    with pytest.raises(TypeError):
        CandidateSearch("not a model", items, 3)


def test_bad_queries_and_thresholds_raise_value_error(items, tmp_path):
    model = sympair.Model(D, seed=0)
    search = CandidateSearch(model, items, 3)
    for q in ([240], [-1], [0, 5, 10**12]):
        with pytest.raises(ValueError):
            search.top_k(np.array(q))
    with pytest.raises(ValueError, match="1-dimensional"):
        search.top_k(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(TypeError):
        search.top_k(np.array([0.5, 1.5]))
    with pytest.raises(ValueError):
        search.neighbours(240)
    with pytest.raises(ValueError):
        search.neighbours(-1)
    for t in (-0.1, 1.5, float("nan"), 1 + 1e-12):
        with pytest.raises(ValueError, match="threshold"):
            search.pairs_above(t)
        with pytest.raises(ValueError, match="threshold"):
            search.write_above_csv(tmp_path / "x.csv", t)
    with pytest.raises(IsADirectoryError):
        search.write_top_k_csv(tmp_path)
    with pytest.raises(FileNotFoundError):
        search.write_top_k_csv(tmp_path / "missing" / "x.csv")


# ---------------------------------------------------------------------------------------
# Runtime: the GIL is released, Ctrl-C stops a long search
# ---------------------------------------------------------------------------------------


def test_gil_is_released_while_building_and_searching():
    """Another Python thread runs while the index is built and searched: a main-thread
    timestamp falls strictly inside the middle half of the call (impossible if the call
    held the GIL)."""
    import threading
    import time

    x, _ = grouped_items(n=20_000, d=32, group=10, seed=1)
    model = sympair.Model(32, "abs_diff", hidden=[32])
    window = {}

    def work():
        window["t0"] = time.perf_counter()
        CandidateSearch(model, x, 10).top_k()
        window["t1"] = time.perf_counter()

    t = threading.Thread(target=work)
    stamps = []
    t.start()
    while t.is_alive():
        stamps.append(time.perf_counter())
    t.join()
    t0, t1 = window["t0"], window["t1"]
    lo, hi = t0 + 0.25 * (t1 - t0), t1 - 0.25 * (t1 - t0)
    assert t1 - t0 > 0.05, "the call must be long enough to measure"
    assert any(lo < s < hi for s in stamps)


def test_ctrl_c_stops_a_long_top_k_with_keyboard_interrupt():
    import os
    import time

    from conftest import ctrl_c_every

    if os.name == "nt":
        pytest.skip("POSIX signals")
    x, _ = grouped_items(n=5_000, d=16, group=10, seed=2)
    search = CandidateSearch(sympair.Model(16, "abs_diff", hidden=[32]), x, 10)
    queries = np.tile(np.arange(len(x)), 400)  # two million queries: far beyond the timer
    # Ctrl-C every 0.3 s until the call returns (one signal could land before the call on a
    # loaded machine).
    start = time.perf_counter()
    with ctrl_c_every(0.3):
        with pytest.raises(KeyboardInterrupt):
            search.top_k(queries)
    assert time.perf_counter() - start < 20
    assert search.top_k(np.array([0]))[0].shape == (1, 10)  # still usable
