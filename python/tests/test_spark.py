"""`sympair.spark`: scoring inside Spark equals single-process scoring, bit for bit.

The Spark tests start a local Spark (master `local[2]`, loopback only, no UI) once per
module; they skip when pyspark or Java is missing, unless `SYMPAIR_REQUIRE_SPARK=1` (CI),
where they fail instead. The partition functions' input checks are tested without Spark, on
hand-made Arrow batches."""

import os
import shutil
import sys

import numpy as np
import pytest

import sympair
from conftest import cluster_items

pa = pytest.importorskip("pyarrow")
from sympair import spark as sspark  # noqa: E402

REQUIRE = os.environ.get("SYMPAIR_REQUIRE_SPARK") == "1"

# Three families that take different roads through the crate: an element-wise combiner,
# the swap-averaged concatenation (two views), and an encoder with a distance head.
FAMILIES = {
    "abs_diff": dict(combiner="abs_diff", hidden=(16,)),
    "concat_swap_average": dict(combiner="concat_swap_average", hidden=(16,)),
    "encoder_distance": dict(combiner="squared_diff", encoder=(16, 8), head="distance"),
}
D = 8


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def list_column(m):
    """An Arrow `list<float>` column from an `(n, d)` matrix."""
    m = np.ascontiguousarray(m)
    offsets = pa.array(np.arange(0, m.size + 1, m.shape[1], dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(m.ravel()))


@pytest.fixture(scope="module")
def task():
    items, ids, y = cluster_items(n_items=300, n_pairs=3500, d=D, seed=11)
    return items, ids, y


@pytest.fixture(scope="module")
def models(task):
    items, ids, y = task
    out = {}
    for name, params in FAMILIES.items():
        clf = sympair.PairClassifier(epochs=2, batch_size=128, random_state=3, **params)
        out[name] = clf.fit(ids, y, items=items).model_
    return out


# ---------------------------------------------------------------------------------------
# Without Spark: the partition functions on hand-made Arrow batches
# ---------------------------------------------------------------------------------------


def plan_for(model, columns, items=None, keep=(), **kw):
    data = model.to_json_bytes()
    shipped = sspark._Shipped(None, data)  # no SparkContext: the value travels in the plan
    it = None if items is None else sspark._Shipped(None, items)
    return sspark._Plan(
        shipped,
        "test-model:" + str(id(model)),
        it,
        None if items is None else "test-items:" + str(id(items)),
        columns,
        list(keep),
        "logit",
        None,
        **kw,
    )


def test_dense_batches_read_sliced_list_columns_and_match_predict_logits(task, models):
    items, ids, _ = task
    model = models["abs_diff"]
    x, y = items[ids[:, 0]], items[ids[:, 1]]
    batch = pa.record_batch([list_column(x), list_column(y)], names=["x", "y"])
    # Slices start at a non-zero list offset: the values must be read from there.
    parts = [batch.slice(0, 37), batch.slice(37, 100), batch.slice(137)]
    out = list(sspark._dense_batches(plan_for(model, ("x", "y")), iter(parts)))
    got = np.concatenate([b.column("logit").to_numpy() for b in out])
    np.testing.assert_array_equal(bits(got), bits(model.predict_logits(x, y)))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda x: pa.array(
                [list(r) for r in x[:4]] + [None] + [list(r) for r in x[5:]], pa.list_(pa.float32())
            ),
            "null embedding at row 54",
        ),
        (
            lambda x: pa.array(
                [list(r) for r in x[:4]] + [list(x[4][:-1])] + [list(r) for r in x[5:]],
                pa.list_(pa.float32()),
            ),
            "embedding of length 7 at row 54",
        ),
        (
            lambda x: pa.array(
                [list(r) for r in x[:4]] + [[1.0] * 7 + [None]] + [list(r) for r in x[5:]],
                pa.list_(pa.float32()),
            ),
            "null value at row 54, position 7",
        ),
        (
            lambda x: pa.array(
                [list(r) for r in x[:4]]
                + [[1.0] * 6 + [float("nan"), 1.0]]
                + [list(r) for r in x[5:]],
                pa.list_(pa.float64()),
            ),
            "non-finite value nan at row 54, position 6",
        ),
    ],
    ids=["null_row", "short_row", "null_value", "nan_value"],
)
def test_bad_embedding_rows_are_named_by_column_and_row_across_batches(
    task, models, mutate, message
):
    items, ids, _ = task
    x = items[ids[:60, 0]]
    good = pa.record_batch([list_column(x[:50]), list_column(x[:50])], names=["x", "y"])
    bad_col = mutate(x[50:60])
    bad = pa.record_batch([list_column(x[50:60]), bad_col], names=["x", "y"])
    with pytest.raises(ValueError, match=f"column 'y': {message}"):
        list(sspark._dense_batches(plan_for(models["abs_diff"], ("x", "y")), iter([good, bad])))


@pytest.mark.parametrize("per_call", [100, 1 << 20])
def test_id_batches_pooled_across_batches_keep_every_row_with_its_score(
    task, models, monkeypatch, per_call
):
    items, ids, _ = task
    model = models["concat_swap_average"]
    # 100: a call every few batches, flushing mid-stream; 2^20: one call at the end.
    monkeypatch.setattr(sspark, "ID_PAIRS_PER_CALL", per_call)
    batch = pa.record_batch(
        [pa.array(np.arange(len(ids))), pa.array(ids[:, 0]), pa.array(ids[:, 1])],
        names=["row", "i", "j"],
    )
    parts = [batch.slice(s, 33) for s in range(0, len(ids), 33)] + [batch.slice(0, 0)]
    plan = plan_for(model, ("i", "j"), items=items, keep=["row"])
    out = list(sspark._id_batches(plan, iter(parts)))
    assert [b.num_rows for b in out] == [p.num_rows for p in parts if p.num_rows]
    rows = np.concatenate([b.column("row").to_numpy() for b in out])
    np.testing.assert_array_equal(rows, np.arange(len(ids)))
    got = np.concatenate([b.column("logit").to_numpy() for b in out])
    np.testing.assert_array_equal(bits(got), bits(model.predict_logits_ids(items, ids, precompute="always")))


def test_worker_cache_loads_once_and_keeps_at_most_cache_entries(task, models, monkeypatch):
    monkeypatch.setattr(sspark, "_CACHE", {})
    plans = [plan_for(m, ("x", "y")) for m in models.values()]
    first = sspark._worker_model(plans[0])
    assert sspark._worker_model(plans[0]) is first  # loaded once, then reused
    assert first == models["abs_diff"] and first is not models["abs_diff"]
    monkeypatch.setattr(sspark, "CACHE_ENTRIES", 2)
    for p in plans:
        sspark._worker_model(p)
    assert len(sspark._CACHE) == 2
    assert list(sspark._CACHE) == [plans[1].model_key, plans[2].model_key]


def test_set_num_threads_sets_the_crates_thread_count():
    try:
        sympair.set_num_threads(1)
        assert sympair.num_threads() == 1
        sympair.set_num_threads(3)
        assert sympair.num_threads() == 3
    finally:
        sympair.set_num_threads(0)
    assert sympair.num_threads() >= 1


def test_top_k_batches_with_query_embeddings_keep_the_other_columns(task, models):
    items, _, _ = task
    model, k = models["encoder_distance"], 4
    queries = items[:45] * 0.5
    names = pa.array([f"q{r}" for r in range(45)])
    batch = pa.record_batch([names, list_column(queries)], names=["name", "q"])
    plan = plan_for(model, ("name", "q"), items=items, keep=["name"], k=k)
    out = pa.Table.from_batches(
        list(sspark._top_k_batches(plan, iter([batch.slice(0, 20), batch.slice(20)])))
    )
    assert out.column_names == ["name", "j", "logit", "rank"]
    idx, logits = model.top_k(queries, items, k)
    assert out.column("name").to_pylist() == [f"q{r}" for r in range(45) for _ in range(k)]
    np.testing.assert_array_equal(out.column("rank").to_numpy(), np.tile(np.arange(k), 45))
    np.testing.assert_array_equal(out.column("j").to_numpy(), idx.ravel())
    np.testing.assert_array_equal(bits(out.column("logit").to_numpy()), bits(logits.ravel()))


def test_out_of_range_and_null_ids_are_named_by_column_and_row(task, models):
    items, _, _ = task
    plan = plan_for(models["abs_diff"], ("i", "j"), items=items)
    batch = pa.record_batch(
        [pa.array([0, 1, 2], pa.int64()), pa.array([1, 300, 2], pa.int64())], names=["i", "j"]
    )
    with pytest.raises(
        ValueError, match=r"column 'j': item id 300 at row 1 is out of range \(0..300\)"
    ):
        list(sspark._id_batches(plan, iter([batch])))
    batch = pa.record_batch(
        [pa.array([0, None, 2], pa.int64()), pa.array([1, 2, 2], pa.int64())], names=["i", "j"]
    )
    with pytest.raises(ValueError, match="column 'i': null item id at row 1"):
        list(sspark._id_batches(plan, iter([batch])))
    batch = pa.record_batch(
        [pa.array([0, -1], pa.int64()), pa.array([1, 2], pa.int64())], names=["i", "j"]
    )
    with pytest.raises(ValueError, match="column 'i': item id -1 at row 1"):
        list(sspark._id_batches(plan, iter([batch])))


def test_non_model_input_is_refused_on_the_driver():
    with pytest.raises(TypeError, match="model must be a sympair.Model"):
        sspark._model_bytes(42)
    with pytest.raises(ValueError):
        sspark._model_bytes(b"not a model")
    with pytest.raises(TypeError, match="model must be"):
        sspark._model_bytes(sympair.PairClassifier())


# ---------------------------------------------------------------------------------------
# On a local Spark
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        if REQUIRE:
            pytest.fail("pyspark is not installed but SYMPAIR_REQUIRE_SPARK=1")
        pytest.skip("pyspark is not installed")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if REQUIRE:
            pytest.fail("Java is not installed but SYMPAIR_REQUIRE_SPARK=1")
        pytest.skip("Java is not installed")
    # Loopback only, and the executors' Python is this interpreter (the one with sympair).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("sympair-test")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "3")
        # Small Arrow batches, so that every partition is scored in several batches.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "700")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def collect(df, order):
    """The DataFrame as a pyarrow Table sorted by the `order` columns."""
    t = df.toArrow()
    return t.sort_by([(c, "ascending") for c in order])


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_dense_pairs_scored_in_spark_equal_single_process_bitwise(spark, task, models, name):
    items, ids, _ = task
    model = models[name]
    x, y = items[ids[:, 0]], items[ids[:, 1]]
    table = pa.table({"row": np.arange(len(x)), "x": list_column(x), "y": list_column(y)})
    # Shuffled over 3 partitions: the batches hold other rows than in one process.
    df = spark.createDataFrame(table).repartition(3)
    out = collect(sspark.score_pairs(df, model, "x", "y", keep=["row"]), ["row"])
    assert out.column_names == ["row", "logit"]
    np.testing.assert_array_equal(out.column("row").to_numpy(), np.arange(len(x)))
    np.testing.assert_array_equal(
        bits(out.column("logit").to_numpy()), bits(model.predict_logits(x, y))
    )


def test_float64_embeddings_and_probabilities_match_the_estimator(spark, task, models):
    items, ids, _ = task
    clf = sympair.PairClassifier.from_model(models["concat_swap_average"])
    x, y = items[ids[:, 0]].astype(np.float64) / 3.0, items[ids[:, 1]].astype(np.float64) / 3.0
    table = pa.table({"row": np.arange(len(x)), "x": list_column(x), "y": list_column(y)})
    df = spark.createDataFrame(table).repartition(2)
    out = collect(sspark.score_pairs(df, clf, probability_col="p", keep=["row"]), ["row"])
    np.testing.assert_array_equal(
        bits(out.column("logit").to_numpy()), bits(clf.decision_function((x, y)))
    )
    np.testing.assert_array_equal(
        out.column("p").to_numpy().view(np.uint64), clf.predict_proba((x, y))[:, 1].view(np.uint64)
    )


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_id_pairs_scored_in_spark_equal_single_process_bitwise(spark, task, models, name):
    items, ids, _ = task
    model = models[name]
    table = pa.table({"row": np.arange(len(ids)), "i": ids[:, 0], "j": ids[:, 1]})
    df = spark.createDataFrame(table).repartition(3)
    out = collect(sspark.score_id_pairs(df, model, items), ["row"])
    assert out.column_names == ["row", "i", "j", "logit"]
    np.testing.assert_array_equal(out.column("i").to_numpy(), ids[:, 0])
    expected = model.predict_logits_ids(items, ids, precompute="always")
    np.testing.assert_array_equal(bits(out.column("logit").to_numpy()), bits(expected))


def test_items_from_an_npy_path_and_canonical_candidates(spark, task, models, tmp_path):
    items, ids, _ = task
    model = models["concat_swap_average"]
    path = tmp_path / "items.npy"
    np.save(path, items)
    # Blocking output with both orders, repeats and self-pairs.
    raw = np.concatenate([ids, ids[:, ::-1], ids[:100], np.stack([np.arange(50)] * 2, 1)])
    df = spark.createDataFrame(pa.table({"a": raw[:, 0], "b": raw[:, 1]}))
    cand = sspark.canonical_pairs(df, "a", "b")
    out = collect(sspark.score_id_pairs(cand, model, str(path), "a", "b"), ["a", "b"])
    want = np.unique(np.sort(raw[raw[:, 0] != raw[:, 1]], axis=1), axis=0)
    got = np.stack([out.column("a").to_numpy(), out.column("b").to_numpy()], 1)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        bits(out.column("logit").to_numpy()), bits(model.predict_logits_ids(items, want, precompute="always"))
    )


@pytest.mark.parametrize("name", ["concat_swap_average", "encoder_distance"])
def test_top_k_in_spark_equals_single_process_top_k(spark, task, models, name):
    items, _, _ = task
    model, k = models[name], 5
    df = spark.range(len(items)).withColumnRenamed("id", "i").repartition(3)
    out = collect(sspark.top_k(df, model, items, k), ["i", "rank"])
    assert out.column_names == ["i", "j", "logit", "rank"]
    # Single process: the k + 1 best of every item, then the item itself left out (a loop,
    # independent of the vectorised filter in sympair.spark).
    idx, logits = model.top_k(items, items, k + 1)
    want_i, want_j, want_l, want_r = [], [], [], []
    for q in range(len(items)):
        kept = [(j, z) for j, z in zip(idx[q], logits[q]) if j != q][:k]
        for r, (j, z) in enumerate(kept):
            want_i.append(q), want_j.append(j), want_l.append(z), want_r.append(r)
    np.testing.assert_array_equal(out.column("i").to_numpy(), want_i)
    np.testing.assert_array_equal(out.column("rank").to_numpy(), want_r)
    np.testing.assert_array_equal(out.column("j").to_numpy(), want_j)
    np.testing.assert_array_equal(bits(out.column("logit").to_numpy()), bits(np.array(want_l)))


def test_bad_id_in_spark_fails_naming_column_partition_and_row(spark, task, models):
    items, ids, _ = task
    bad = ids.copy()
    bad[123, 1] = 10_000
    df = spark.createDataFrame(pa.table({"i": bad[:, 0], "j": bad[:, 1]})).coalesce(1)
    with pytest.raises(
        Exception, match=r"column 'j': item id 10000 at partition 0, row 123 is out of range"
    ):
        sspark.score_id_pairs(df, models["abs_diff"], items).collect()
