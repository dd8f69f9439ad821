"""`sympair.spark.candidates`: the ANN candidate search on Spark equals single-process
`CandidateSearch` exactly.

Every Python worker builds the HNSW index over all items on one thread (the same index in
every process) and answers its partition's item ids; the test runs a local Spark (master
`local[2]`, 3 partitions, small Arrow batches) over 3,000 items and compares every partner,
rank and probability bit for bit. Skips without pyspark or Java unless
`SYMPAIR_REQUIRE_SPARK=1`, where it fails instead."""

import os
import shutil
import sys

import numpy as np
import pytest

import sympair
from sympair import CandidateSearch

pa = pytest.importorskip("pyarrow")
from sympair import spark as sspark  # noqa: E402

REQUIRE = os.environ.get("SYMPAIR_REQUIRE_SPARK") == "1"
D, N, K = 8, 3000, 5

FAMILIES = {
    "abs_diff": dict(combiner="abs_diff", hidden=[16], seed=1),
    "encoder_distance": dict(combiner="squared_diff", encoder=[6], head="distance", seed=2),
}


@pytest.fixture(scope="module")
def items():
    rng = np.random.default_rng(5)
    g = np.arange(N) // 6
    return ((rng.normal(size=(g.max() + 1, D)) * 3.0)[g] + 0.2 * rng.normal(size=(N, D))).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def reference(items):
    """Single-process results per family: `(partners, probabilities)`."""
    out = {}
    for name, params in FAMILIES.items():
        model = sympair.Model(D, **params)
        out[name] = (model, CandidateSearch(model, items, K, build_threads=1).top_k())
    return out


def flat(partners, probs):
    """`(i, j, probability, rank)` rows of a top-k, padding dropped."""
    keep = partners != -1
    i = np.broadcast_to(np.arange(len(partners))[:, None], partners.shape)[keep]
    rank = (np.cumsum(keep, axis=1) - 1)[keep]
    return i, partners[keep], probs[keep], rank


# ---------------------------------------------------------------------------------------
# Without Spark: the partition function on hand-made Arrow batches
# ---------------------------------------------------------------------------------------


def test_partition_function_answers_its_ids_like_the_single_process_search(items, reference):
    model, (partners, probs) = reference["abs_diff"]
    plan = sspark._Plan(
        sspark._Shipped(None, model.to_json_bytes()),
        "test-model:candidates",
        sspark._Shipped(None, items),
        "test-items:candidates",
        ("i",),
        ["i"],
        "probability",
        None,
        k=K,
        search=dict(build_threads=1),
    )
    ids = np.array([17, 3, 2999, 17], dtype=np.int64)
    batches = [
        pa.RecordBatch.from_arrays([pa.array(ids[:2])], ["i"]),
        pa.RecordBatch.from_arrays([pa.array(ids[2:])], ["i"]),
    ]
    out = pa.Table.from_batches(list(sspark._candidate_batches(plan, iter(batches))))
    assert out.column_names == ["i", "j", "probability", "rank"]
    np.testing.assert_array_equal(out.column("i").to_numpy(), np.repeat(ids, K))
    np.testing.assert_array_equal(out.column("j").to_numpy(), partners[ids].ravel())
    np.testing.assert_array_equal(
        out.column("probability").to_numpy().view(np.uint32), probs[ids].ravel().view(np.uint32)
    )
    np.testing.assert_array_equal(out.column("rank").to_numpy(), np.tile(np.arange(K), 4))
    bad = pa.RecordBatch.from_arrays([pa.array([1, N], type=pa.int64())], ["i"])
    with pytest.raises(ValueError, match=r"item id 3000 at row 1 is out of range"):
        list(sspark._candidate_batches(plan, iter([bad])))


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
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("sympair-test-candidates")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "3")
        # Small Arrow batches, so that every partition is answered in several batches.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "400")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def ids_frame(spark, n=N, partitions=3):
    return spark.range(n).withColumnRenamed("id", "i").repartition(partitions)


def assert_equal_to_reference(table, partners, probs):
    table = table.sort_by([("i", "ascending"), ("rank", "ascending")])
    i, j, p, rank = flat(partners, probs)
    np.testing.assert_array_equal(table.column("i").to_numpy(), i)
    np.testing.assert_array_equal(table.column("j").to_numpy(), j)
    np.testing.assert_array_equal(table.column("rank").to_numpy(), rank)
    np.testing.assert_array_equal(
        table.column("probability").to_numpy().view(np.uint32), p.view(np.uint32)
    )


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_spark_candidates_equal_single_process_search_bitwise(spark, items, reference, name):
    model, (partners, probs) = reference[name]
    out = sspark.candidates(ids_frame(spark), model, items, K)
    assert out.columns == ["i", "j", "probability", "rank"]
    assert_equal_to_reference(out.toArrow(), partners, probs)


def test_spark_candidates_from_an_npy_path_with_kept_columns(spark, items, reference, tmp_path):
    from pyspark.sql import functions as F

    model, (partners, probs) = reference["abs_diff"]
    path = tmp_path / "items.npy"
    np.save(path, items)
    df = ids_frame(spark).withColumn("tag", F.col("i") * 2)
    out = sspark.candidates(
        df, model.to_json_bytes(), str(path), K, keep=["i", "tag"], probability_col="probability"
    ).toArrow()
    assert out.column_names == ["i", "tag", "j", "probability", "rank"]
    np.testing.assert_array_equal(out.column("tag").to_numpy(), 2 * out.column("i").to_numpy())
    assert_equal_to_reference(out, partners, probs)


def test_spark_candidates_reject_bad_input(spark, items, reference):
    model, _ = reference["abs_diff"]
    df = ids_frame(spark, 10, 1)
    for kwargs, match in [
        (dict(k=0), "k"),
        (dict(k=N), "k"),
        (dict(k=3, metric="manhattan"), "metric"),
        (dict(k=3, candidates=2), "candidates"),
    ]:
        with pytest.raises(ValueError, match=match):
            sspark.candidates(df, model, items, **kwargs)
    with pytest.raises(ValueError, match="no column"):
        sspark.candidates(df, model, items, 3, id_col="nope")
    from pyspark.sql import functions as F

    bad = spark.range(5).select((F.col("id") * 1000).alias("i"))
    with pytest.raises(Exception, match="out of range"):
        sspark.candidates(bad, model, items, 3).collect()
