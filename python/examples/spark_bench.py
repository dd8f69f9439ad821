"""Throughput of scoring inside a local Spark (`sympair.spark`) against one Python process.

Workload: random items (20,000 x d float32), 200,000 item-id pairs, untrained models
(weights do not change the work): AbsDiff with a head of 64, and ConcatSwapAverage with a
head of 64. Contenders, run alternately, REPEATS times each, median pairs/s:

* `process`: `Model.predict_logits_ids(items, ids)` in this process, every core.
* `floor`: the same Spark job with a `mapInArrow` that returns a constant instead of
  scoring: what moving the rows through Spark and Arrow costs, the least any scorer pays.
* `spark`: `sympair.spark.score_id_pairs` on a `local[N]` Spark (the pairs cached in Spark
  first; results written to Spark's `noop` sink, so all rows are scored and nothing is
  collected). The model and items are broadcast in each run, as a user's job would.
  JVM start and the first (warm-up) job are not timed.

Run from the repository root (after `pip install ./python pyspark pyarrow "pandas<3"`):

    SPARK_LOCAL_IP=127.0.0.1 python python/examples/spark_bench.py [--repeats 3]
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

import sympair
from sympair import spark as sspark


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--pairs", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()

    import pyarrow as pa
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master(args.master)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    parallelism = spark.sparkContext.defaultParallelism

    rng = np.random.default_rng(0)
    items = (rng.random((args.items, args.dim), dtype=np.float32) - 0.5).astype(np.float32)
    ids = rng.integers(0, args.items, size=(args.pairs, 2)).astype(np.int64)
    df = spark.createDataFrame(pa.table({"i": ids[:, 0], "j": ids[:, 1]}))
    df = df.repartition(parallelism).cache()
    df.count()

    print(
        f"{args.items} items (d = {args.dim}), {args.pairs} id pairs; spark {args.master} "
        f"({parallelism} partitions, Arrow batches of "
        f"{spark.conf.get('spark.sql.execution.arrow.maxRecordsPerBatch')} rows); "
        f"median of {args.repeats}"
    )
    print(
        f"{'model':<22}{'process pairs/s':>16}{'floor pairs/s':>15}{'spark pairs/s':>15}"
        f"{'spark/process':>15}"
    )

    def constant(batches):
        for b in batches:
            yield pa.RecordBatch.from_arrays(
                [pa.array(np.zeros(b.num_rows, np.float32))], names=["logit"]
            )

    def floor():
        t = time.perf_counter()
        df.mapInArrow(constant, "logit float").write.format("noop").mode("overwrite").save()
        return args.pairs / (time.perf_counter() - t)

    for name in ("abs_diff", "concat_swap_average"):
        model = sympair.Model(args.dim, name, hidden=[64], seed=1)

        def process():
            t = time.perf_counter()
            model.predict_logits_ids(items, ids)
            return args.pairs / (time.perf_counter() - t)

        def in_spark():
            t = time.perf_counter()
            out = sspark.score_id_pairs(df, model, items, keep=[])
            out.write.format("noop").mode("overwrite").save()
            return args.pairs / (time.perf_counter() - t)

        in_spark()  # warm-up: Python workers start, sympair is imported
        floor()
        runs = {"process": [], "floor": [], "spark": []}
        for _ in range(args.repeats):
            runs["process"].append(process())
            runs["floor"].append(floor())
            runs["spark"].append(in_spark())
        p, f, s = (statistics.median(runs[c]) for c in ("process", "floor", "spark"))
        print(f"{name:<22}{p:>16.0f}{f:>15.0f}{s:>15.0f}{s / p:>15.2f}")
    spark.stop()


if __name__ == "__main__":
    main()
