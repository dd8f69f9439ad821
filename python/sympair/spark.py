"""Scoring pairs inside Apache Spark: the model runs on the executors, partition by partition.

Requires ``pyspark`` (3.3 or later, for ``DataFrame.mapInArrow``) and ``pyarrow``; neither
is imported until a function of this module is called, so ``import sympair`` never needs
them.

How it works: the model travels to the executors as its saved bytes (the crate's JSON
format, the same file ``save`` writes) in a Spark broadcast, and an item matrix as a
broadcast numpy array or as the path of an ``.npy`` file every executor can read (memory
mapped). Each Python worker loads them once and keeps them for the following tasks (Spark
reuses its Python workers by default). ``DataFrame.mapInArrow`` hands each partition over as
Arrow record batches: the columns become numpy arrays without a copy where Arrow allows it
(float32 embeddings, int64 ids), the Rust scorer runs on them with the GIL released, and the
logits go back as an Arrow column. Row ``r`` of the result is the score of row ``r`` of the
input, bit for bit what single-process scoring (``Model.predict_logits``,
``Model.predict_logits_ids``, ``Model.top_k``) gives for the same row, because the crate
scores every row independently of its batch.

Functions
---------
:func:`score_pairs`
    Dense pairs: two embedding columns (``array<float>`` or ``array<double>``) per row.
:func:`score_id_pairs`
    Candidate pairs given as two item-id columns into an item matrix (the user's blocking
    output, or :func:`canonical_pairs` of it).
:func:`top_k`
    Candidate search: for each query row (an item id, or an embedding column), the ``k``
    items of the matrix with the highest logits, by exact exhaustive scoring of the query
    against every item (the query rows are spread over the cluster; each executor scores
    its queries against the whole matrix).
:func:`candidates`
    Approximate candidate search for millions of items: every Python worker builds (once)
    the crate's HNSW :class:`~sympair.CandidateSearch` over all items, and each task
    answers the item ids of its partition (``n_items * candidates`` pair scores in all,
    not ``n_items^2``).
:func:`canonical_pairs`
    Each unordered pair once, no self-pairs.

The batch size is Spark's ``spark.sql.execution.arrow.maxRecordsPerBatch`` (10,000 rows by
default). Every task uses ``spark.task.cpus`` threads of the crate (one by default), so that
the tasks running side by side on an executor share its cores instead of oversubscribing
them.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional, Sequence, Union

import numpy as np

from . import CandidateSearch, Model, set_num_threads

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyarrow as pa  # type: ignore[import-untyped]
    from pyspark.sql import DataFrame

__all__ = ["score_pairs", "score_id_pairs", "top_k", "candidates", "canonical_pairs"]

ModelLike = Union[Model, Any, bytes, str, "os.PathLike[str]"]
ItemsLike = Union[np.ndarray, str, "os.PathLike[str]"]

# ---------------------------------------------------------------------------------------
# Shipping the model and the items to the executors
# ---------------------------------------------------------------------------------------

#: Per Python worker: loaded models and item matrices, keyed by the SHA-256 of their bytes
#: (or path), so that a reused worker loads each once whatever the number of tasks. At most
#: CACHE_ENTRIES are kept (the oldest is dropped first; a running task keeps its own
#: references), so that a long-lived worker does not keep every matrix it ever saw.
_CACHE: Dict[str, Any] = {}
CACHE_ENTRIES = 4


def _cached(key: str, load: Callable[[], Any]) -> Any:
    value = _CACHE.get(key)
    if value is None:
        value = load()
        while len(_CACHE) >= CACHE_ENTRIES:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = value
    return value


def _model_bytes(model: ModelLike) -> bytes:
    """The saved-model bytes of a :class:`~sympair.Model`, a fitted
    :class:`~sympair.PairClassifier`, bytes already, or the path of a saved model."""
    if isinstance(model, Model):
        return model.to_json_bytes()
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        Model.from_json_bytes(data)  # fails here, on the driver, if the bytes are no model
        return data
    if isinstance(model, (str, os.PathLike)):
        return Model.load(os.fspath(model)).to_json_bytes()
    inner = getattr(model, "model_", None)
    if isinstance(inner, Model):
        return inner.to_json_bytes()
    raise TypeError(
        "model must be a sympair.Model, a fitted sympair.PairClassifier, saved-model bytes "
        f"or the path of a saved model, got {type(model).__name__}"
    )


class _Shipped:
    """A value on its way to the executors: a Spark broadcast where the session has a
    SparkContext (classic Spark), else the value itself inside the task closure (Spark
    Connect has no broadcast)."""

    def __init__(self, spark: Any, value: Any):
        try:
            self._bc: Any = spark.sparkContext.broadcast(value)
            self._value: Any = None
        except Exception:  # Spark Connect: no SparkContext on the client
            self._bc, self._value = None, value

    def get(self) -> Any:
        return self._bc.value if self._bc is not None else self._value


@dataclass(frozen=True)
class _Plan:
    """Everything a task needs; pickled once per task by Spark."""

    model: _Shipped
    model_key: str
    items: Optional[_Shipped]
    items_key: Optional[str]
    columns: Sequence[str]  # the input columns the function reads
    keep: Sequence[str]  # the input columns passed through to the output
    logit_col: str
    probability_col: Optional[str]
    k: int = 0
    exclude_self: bool = False
    item_col: str = "j"
    rank_col: str = "rank"
    #: Options of :class:`~sympair.CandidateSearch` (``candidates`` only).
    search: Optional[Dict[str, Any]] = None


def _worker_model(plan: _Plan) -> Model:
    return _cached(plan.model_key, lambda: Model.from_json_bytes(plan.model.get()))


def _worker_items(plan: _Plan) -> np.ndarray:
    assert plan.items is not None and plan.items_key is not None, "plan without items"

    def load() -> np.ndarray:
        value = plan.items.get()  # type: ignore[union-attr]
        return np.load(value, mmap_mode="r") if isinstance(value, str) else value

    return _cached(plan.items_key, load)


def _worker_search(plan: _Plan) -> CandidateSearch:
    """The worker's candidate search over the plan's items: built on the first task that
    needs it and kept for the following ones (the index is the costly part)."""
    opts = dict(plan.search or {})
    key = f"search:{plan.model_key}:{plan.items_key}:{plan.k}:{sorted(opts.items())!r}"
    return _cached(
        key, lambda: CandidateSearch(_worker_model(plan), _worker_items(plan), plan.k, **opts)
    )


def _ship_items(spark: Any, items: ItemsLike, model: Model) -> tuple:
    """``(_Shipped, key, n_items)``; the matrix is checked on the driver (2-d, the model's
    width) so that a mistake fails before any task starts."""
    if isinstance(items, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(items))
        arr = np.load(path, mmap_mode="r")
        value: Any = path
        key = "path:" + path + ":" + str(os.path.getmtime(path))
    else:
        arr = np.asarray(items)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"items must be a float array, got dtype {arr.dtype}")
        value = np.ascontiguousarray(arr, dtype=np.float32)
        key = "items:" + hashlib.sha256(value.tobytes()).hexdigest() + str(value.shape)
    if arr.ndim != 2:
        raise ValueError(f"items must be 2-dimensional (n_items, d), got shape {arr.shape}")
    if arr.shape[1] != model.input_dim:
        raise ValueError(f"items have width {arr.shape[1]} but the model expects {model.input_dim}")
    return _Shipped(spark, value), key, int(arr.shape[0])


def _prepare(df: "DataFrame", model: ModelLike) -> tuple:
    data = _model_bytes(model)
    key = "model:" + hashlib.sha256(data).hexdigest()
    return _Shipped(df.sparkSession, data), key, Model.from_json_bytes(data)


# ---------------------------------------------------------------------------------------
# Arrow <-> numpy on the executors
# ---------------------------------------------------------------------------------------


class _Where:
    """Where a batch sits: the Spark partition and the row offset inside it, so that errors
    name the row a user can find (``partition 3, row 17``)."""

    def __init__(self) -> None:
        try:
            from pyspark import TaskContext

            ctx = TaskContext.get()
        except ImportError:  # pragma: no cover - pyspark is there whenever Spark runs us
            ctx = None
        self.partition = None if ctx is None else ctx.partitionId()
        # Outside a Spark task (tests calling the partition functions directly) the
        # process's thread setting is left alone.
        self.cpus = None if ctx is None else max(int(ctx.cpus()), 1)
        self.offset = 0

    def use_task_cpus(self) -> None:
        if self.cpus is not None:
            set_num_threads(self.cpus)

    def row(self, r: int) -> str:
        part = "" if self.partition is None else f"partition {self.partition}, "
        return f"{part}row {self.offset + r}"


def _matrix(batch: "pa.RecordBatch", name: str, d: int, where: _Where) -> np.ndarray:
    """An ``(n, d)`` float32 matrix from a list column (no copy for non-null float32
    values); float64 values are rounded to float32 once, as single-process scoring does."""
    import pyarrow as pa  # type: ignore[import-untyped]

    col = batch.column(name)
    if col.null_count:
        r = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"column {name!r}: null embedding at {where.row(r)}")
    n = len(col)
    if pa.types.is_fixed_size_list(col.type):
        lengths = np.full(n, col.type.list_size)
    elif pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        offsets = col.offsets.to_numpy()
        lengths = np.diff(offsets)
    else:
        raise TypeError(f"column {name!r} must be an array of floats, got Arrow type {col.type}")
    bad = np.flatnonzero(lengths != d)
    if bad.size:
        r = int(bad[0])
        raise ValueError(
            f"column {name!r}: embedding of length {int(lengths[r])} at {where.row(r)}, "
            f"the model expects {d}"
        )
    values = col.flatten()
    if values.null_count:
        flat = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(
            f"column {name!r}: null value at {where.row(flat // d)}, position {flat % d}"
        )
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise TypeError(f"column {name!r} must be an array of floats, got Arrow type {col.type}")
    out = values.to_numpy(zero_copy_only=False).reshape(n, d)
    out = out if out.dtype == np.float32 else out.astype(np.float32)
    # The crate rejects NaN and infinity too, but names the row of the batch; checked here
    # (one pass, a small cost beside scoring) to name the partition's row.
    finite = np.isfinite(out)
    if not finite.all():
        r, c = (int(v[0]) for v in np.nonzero(~finite))
        raise ValueError(
            f"column {name!r}: non-finite value {out[r, c]} at {where.row(r)}, position {c}"
        )
    return out


def _ids(batch: "pa.RecordBatch", name: str, n_items: int, where: _Where) -> np.ndarray:
    """An int64 id column, checked for nulls and range (the message names the row)."""
    import pyarrow as pa  # type: ignore[import-untyped]

    col = batch.column(name)
    if not pa.types.is_integer(col.type):
        raise TypeError(f"column {name!r} must hold integer item ids, got Arrow type {col.type}")
    if col.null_count:
        r = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"column {name!r}: null item id at {where.row(r)}")
    ids = col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    bad = np.flatnonzero((ids < 0) | (ids >= n_items))
    if bad.size:
        r = int(bad[0])
        raise ValueError(
            f"column {name!r}: item id {int(ids[r])} at {where.row(r)} is out of range "
            f"(0..{n_items})"
        )
    return ids


def _proba(model: Model, logits: np.ndarray) -> np.ndarray:
    """The model's probabilities of `logits` (calibrated if it has a calibration), float32
    values held in float64: ``PairClassifier.predict_proba(...)[:, 1]`` bit for bit."""
    return model.proba_from_logits(logits).astype(np.float64)


def _with_scores(
    batch: "pa.RecordBatch", plan: _Plan, logits: np.ndarray, model: Model
) -> "pa.RecordBatch":
    import pyarrow as pa  # type: ignore[import-untyped]

    arrays = [batch.column(c) for c in plan.keep]
    names = list(plan.keep)
    arrays.append(pa.array(logits, type=pa.float32()))
    names.append(plan.logit_col)
    if plan.probability_col is not None:
        arrays.append(pa.array(_proba(model, logits), type=pa.float64()))
        names.append(plan.probability_col)
    return pa.RecordBatch.from_arrays(arrays, names=names)


# ---------------------------------------------------------------------------------------
# The partition functions (module level, so that workers import them and share _CACHE)
# ---------------------------------------------------------------------------------------


def _dense_batches(plan: _Plan, batches: Iterator["pa.RecordBatch"]) -> Iterator["pa.RecordBatch"]:
    model = _worker_model(plan)
    where = _Where()
    where.use_task_cpus()
    x_col, y_col = plan.columns
    for batch in batches:
        if batch.num_rows:
            x = _matrix(batch, x_col, model.input_dim, where)
            y = _matrix(batch, y_col, model.input_dim, where)
            yield _with_scores(batch, plan, model.predict_logits(x, y), model)
        where.offset += batch.num_rows


#: Id pairs scored per call of the crate. Each call checks the whole item matrix once
#: (`IdScorer::new`: every value finite), so Spark's Arrow batches (10,000 rows by default)
#: are pooled up to this many pairs first; 16 bytes per pair of ids.
ID_PAIRS_PER_CALL = 1 << 17


def _id_batches(plan: _Plan, batches: Iterator["pa.RecordBatch"]) -> Iterator["pa.RecordBatch"]:
    model = _worker_model(plan)
    items = _worker_items(plan)
    where = _Where()
    where.use_task_cpus()
    i_col, j_col = plan.columns
    pending: list = []  # (batch, ids) not yet scored

    def flush() -> Iterator["pa.RecordBatch"]:
        # Per-item path in every partition: the same bits whatever a call brings.
        logits = model.predict_logits_ids(
            items, np.concatenate([p for _, p in pending]), precompute="always"
        )
        start = 0
        for batch, pairs in pending:
            yield _with_scores(batch, plan, logits[start : start + len(pairs)], model)
            start += len(pairs)
        pending.clear()

    waiting = 0
    for batch in batches:
        if batch.num_rows:
            i = _ids(batch, i_col, len(items), where)
            j = _ids(batch, j_col, len(items), where)
            pending.append((batch, np.stack([i, j], 1)))
            waiting += batch.num_rows
            if waiting >= ID_PAIRS_PER_CALL:
                yield from flush()
                waiting = 0
        where.offset += batch.num_rows
    if pending:
        yield from flush()


def _top_k_batches(plan: _Plan, batches: Iterator["pa.RecordBatch"]) -> Iterator["pa.RecordBatch"]:
    import pyarrow as pa  # type: ignore[import-untyped]

    model = _worker_model(plan)
    items = _worker_items(plan)
    where = _Where()
    where.use_task_cpus()
    id_col, query_col = plan.columns
    want = min(plan.k + int(plan.exclude_self), len(items))
    for batch in batches:
        if batch.num_rows:
            if query_col:
                queries = _matrix(batch, query_col, model.input_dim, where)
            else:
                self_ids = _ids(batch, id_col, len(items), where)
                queries = np.asarray(items[self_ids], dtype=np.float32)
            idx, logits = model.top_k(queries, items, want)
            keep = np.ones(idx.shape, dtype=bool)
            if plan.exclude_self:
                # The query item itself is dropped wherever it ranks; one extra candidate
                # was asked for, so each row keeps its best k other items.
                keep = idx != self_ids[:, None]
            keep &= np.cumsum(keep, axis=1) <= plan.k
            rank = np.cumsum(keep, axis=1) - 1
            rows = np.nonzero(keep)[0]
            arrays = [batch.column(c).take(pa.array(rows)) for c in plan.keep]
            arrays += [
                pa.array(idx[keep], type=pa.int64()),
                pa.array(logits[keep], type=pa.float32()),
                pa.array(rank[keep].astype(np.int32), type=pa.int32()),
            ]
            names = list(plan.keep) + [plan.item_col, plan.logit_col, plan.rank_col]
            if plan.probability_col is not None:
                arrays.append(pa.array(_proba(model, logits[keep]), type=pa.float64()))
                names.append(plan.probability_col)
            yield pa.RecordBatch.from_arrays(arrays, names=names)
        where.offset += batch.num_rows


def _candidate_batches(
    plan: _Plan, batches: Iterator["pa.RecordBatch"]
) -> Iterator["pa.RecordBatch"]:
    import pyarrow as pa  # type: ignore[import-untyped]

    # The plan's `logit_col` names the probability column here (the search gives
    # probabilities, as its CSV output does).
    where = _Where()
    where.use_task_cpus()
    search = _worker_search(plan)
    id_col = plan.columns[0]
    for batch in batches:
        if batch.num_rows:
            ids = _ids(batch, id_col, search.n_items, where)
            partners, probs = search.top_k(ids)
            keep = partners != -1  # padding of an item with fewer than k candidates
            rank = np.cumsum(keep, axis=1) - 1
            rows = np.nonzero(keep)[0]
            arrays = [batch.column(c).take(pa.array(rows)) for c in plan.keep]
            arrays += [
                pa.array(partners[keep], type=pa.int64()),
                pa.array(probs[keep], type=pa.float32()),
                pa.array(rank[keep].astype(np.int32), type=pa.int32()),
            ]
            names = list(plan.keep) + [plan.item_col, plan.logit_col, plan.rank_col]
            yield pa.RecordBatch.from_arrays(arrays, names=names)
        where.offset += batch.num_rows


# ---------------------------------------------------------------------------------------
# Public API (runs on the driver)
# ---------------------------------------------------------------------------------------


def _kept(df: "DataFrame", keep: Optional[Sequence[str]], reserved: Sequence[str]) -> list:
    cols = list(df.columns) if keep is None else list(keep)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"keep names columns the DataFrame does not have: {missing}")
    clash = [c for c in cols if c in reserved]
    if clash:
        raise ValueError(
            f"output column(s) {clash} already exist in the input; pass other names or keep="
        )
    return cols


def _need(df: "DataFrame", *cols: Optional[str]) -> None:
    for c in cols:
        if c is not None and c not in df.columns:
            raise ValueError(f"the DataFrame has no column {c!r} (columns: {df.columns})")


def _run(
    df: "DataFrame",
    fn: Callable[[_Plan, Iterator["pa.RecordBatch"]], Iterator["pa.RecordBatch"]],
    plan: _Plan,
    extra: Sequence[tuple],
) -> "DataFrame":
    from pyspark.sql import types as T

    kinds = {
        "float": T.FloatType(),
        "double": T.DoubleType(),
        "long": T.LongType(),
        "int": T.IntegerType(),
    }
    fields = [df.schema[c] for c in plan.keep]
    fields += [T.StructField(name, kinds[kind], nullable=False) for name, kind in extra]
    return df.mapInArrow(functools.partial(fn, plan), T.StructType(fields))


def score_pairs(
    df: "DataFrame",
    model: ModelLike,
    x_col: str = "x",
    y_col: str = "y",
    *,
    logit_col: str = "logit",
    probability_col: Optional[str] = None,
    keep: Optional[Sequence[str]] = None,
) -> "DataFrame":
    """Scores dense pairs: row ``r`` holds the two embeddings in ``x_col`` and ``y_col``
    (``array<float>``, or ``array<double>`` rounded to float32 once).

    Returns the columns ``keep`` (default: every input column) followed by ``logit_col``
    (float, ``>= 0`` means "similar") and, if ``probability_col`` is given, the model's
    probability (calibrated if the model stores a calibration; the float32 value of
    ``PairClassifier.predict_proba`` in a double column). Lazy, like every Spark transformation: nothing runs until an
    action. ``model`` is a :class:`~sympair.Model`, a fitted
    :class:`~sympair.PairClassifier`, saved-model bytes or a saved model's path.

    Errors (raised by the action, inside Spark's ``PythonException``) name the column, the
    partition and the row: a null embedding, one of the wrong length, a NaN (the crate's
    message).
    """
    _need(df, x_col, y_col)
    shipped, key, m = _prepare(df, model)
    outs = [logit_col] + ([probability_col] if probability_col else [])
    plan = _Plan(
        shipped, key, None, None, (x_col, y_col), _kept(df, keep, outs), logit_col, probability_col
    )
    extra = [(logit_col, "float")] + ([(probability_col, "double")] if probability_col else [])
    return _run(df, _dense_batches, plan, extra)


def score_id_pairs(
    df: "DataFrame",
    model: ModelLike,
    items: ItemsLike,
    i_col: str = "i",
    j_col: str = "j",
    *,
    logit_col: str = "logit",
    probability_col: Optional[str] = None,
    keep: Optional[Sequence[str]] = None,
) -> "DataFrame":
    """Scores candidate pairs of item ids: row ``r`` is the pair ``(items[i], items[j])``
    with ``i, j`` read from the integer columns ``i_col``, ``j_col``.

    ``items`` is an ``(n_items, d)`` array (broadcast to the executors; fine up to a few GB)
    or the path of an ``.npy`` file that every executor can read at that path (memory
    mapped; for larger matrices, or to keep the driver's memory free). Output columns as in
    :func:`score_pairs`; the logits equal
    ``Model.predict_logits_ids(items, ids, precompute="always")`` bit for bit, in every
    partition. An id out of range or null fails with the column, the partition and the row.
    """
    _need(df, i_col, j_col)
    shipped, key, m = _prepare(df, model)
    it, it_key, _ = _ship_items(df.sparkSession, items, m)
    outs = [logit_col] + ([probability_col] if probability_col else [])
    plan = _Plan(
        shipped, key, it, it_key, (i_col, j_col), _kept(df, keep, outs), logit_col, probability_col
    )
    extra = [(logit_col, "float")] + ([(probability_col, "double")] if probability_col else [])
    return _run(df, _id_batches, plan, extra)


def top_k(
    df: "DataFrame",
    model: ModelLike,
    items: ItemsLike,
    k: int,
    id_col: str = "i",
    *,
    query_col: Optional[str] = None,
    exclude_self: Optional[bool] = None,
    item_col: str = "j",
    logit_col: str = "logit",
    rank_col: str = "rank",
    probability_col: Optional[str] = None,
    keep: Optional[Sequence[str]] = None,
) -> "DataFrame":
    """Candidate search: for every row of ``df``, the ``k`` rows of ``items`` with the
    highest logits, as ``k`` output rows (``item_col``: the item's row number,
    ``logit_col``, ``rank_col``: 0 = best; ties: lower item number first).

    The query of a row is ``items[id_col]`` (deduplication: ``df`` lists item ids, e.g.
    ``spark.range(n).withColumnRenamed("id", "i")``; the item itself is left out unless
    ``exclude_self=False``), or, with ``query_col``, the embedding in that column
    (``exclude_self`` is then off). Every query is scored against every item, exactly, with
    ``Model.top_k``: the query rows are spread over the cluster, and each task scores its
    queries against the whole matrix, so the cost is ``n_queries * n_items`` pair scores
    over the cluster's cores. Results equal single-process ``Model.top_k`` bit for bit.

    ``keep`` (default: every input column but ``query_col``) are repeated on each of the
    row's ``k`` output rows.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if exclude_self is None:
        exclude_self = query_col is None
    if exclude_self and query_col is not None:
        raise ValueError("exclude_self needs item-id queries (query_col=None)")
    _need(df, id_col if query_col is None else None, query_col)
    shipped, key, m = _prepare(df, model)
    it, it_key, _ = _ship_items(df.sparkSession, items, m)
    outs = [item_col, logit_col, rank_col] + ([probability_col] if probability_col else [])
    if keep is None:
        keep = [c for c in df.columns if c != query_col]
    plan = _Plan(
        shipped,
        key,
        it,
        it_key,
        (id_col, query_col or ""),
        _kept(df, keep, outs),
        logit_col,
        probability_col,
        k=int(k),
        exclude_self=bool(exclude_self),
        item_col=item_col,
        rank_col=rank_col,
    )
    extra = [(item_col, "long"), (logit_col, "float"), (rank_col, "int")]
    extra += [(probability_col, "double")] if probability_col else []
    return _run(df, _top_k_batches, plan, extra)


def candidates(
    df: "DataFrame",
    model: ModelLike,
    items: ItemsLike,
    k: int = 10,
    id_col: str = "i",
    *,
    candidates: Optional[int] = None,
    connectivity: int = 16,
    expansion_add: Optional[int] = None,
    expansion_search: Optional[int] = None,
    metric: Optional[str] = None,
    half_precision: bool = False,
    build_threads: Optional[int] = 1,
    item_col: str = "j",
    probability_col: str = "probability",
    rank_col: str = "rank",
    keep: Optional[Sequence[str]] = None,
) -> "DataFrame":
    """Approximate candidate search on Spark: for every item id in ``id_col``, its best
    ``k`` partners among its ``candidates`` nearest neighbours in an HNSW index over all
    ``items``, scored exactly by the model, as ``k`` output rows (``item_col``: the
    partner's id, ``probability_col``: float, ``rank_col``: 0 = best; ties: lower id first).

    Each Python worker builds the index over all items once (from the broadcast model bytes
    and items, or the ``.npy`` path; kept for its later tasks), and each task answers the
    ids of its partition with :meth:`CandidateSearch.top_k`. The options are those of
    :class:`~sympair.CandidateSearch`. With ``build_threads=1`` (the default) every worker
    builds the same index, so the rows equal single-process
    ``CandidateSearch(model, items, k, build_threads=1, ...).top_k(ids)`` exactly, whatever
    the partitioning, on executors whose CPUs pick the same SIMD kernels as the driver's
    (``usearch`` chooses them at run time); ``build_threads=None`` builds on the task's
    ``spark.task.cpus`` threads, faster but possibly a slightly different index per worker.

    Every executor holds the items and the index (about ``n_items * (4 d + 8 M)`` bytes,
    ``M = connectivity``) per Python worker: for millions of items, give the executors few
    Python workers with several cores each (``spark.task.cpus``) rather than many. An id
    that is null or out of range fails the job naming the column, partition and row.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    _need(df, id_col)
    shipped, key, m = _prepare(df, model)
    it, it_key, n_items = _ship_items(df.sparkSession, items, m)
    if k >= n_items:
        raise ValueError(f"k must be less than the number of items ({n_items}), got {k}")
    opts: Dict[str, Any] = dict(
        candidates=candidates,
        connectivity=connectivity,
        expansion_add=expansion_add,
        expansion_search=expansion_search,
        metric=metric,
        half_precision=half_precision,
        build_threads=build_threads,
    )
    # The options are checked on the driver, by the crate, on a search over k + 1 items.
    head = np.load(items, mmap_mode="r") if isinstance(items, (str, os.PathLike)) else items
    CandidateSearch(m, np.asarray(head[: int(k) + 1]), int(k), **opts)
    outs = [item_col, probability_col, rank_col]
    plan = _Plan(
        shipped,
        key,
        it,
        it_key,
        (id_col,),
        _kept(df, keep, outs),
        probability_col,
        None,
        k=int(k),
        item_col=item_col,
        rank_col=rank_col,
        search=opts,
    )
    extra = [(item_col, "long"), (probability_col, "float"), (rank_col, "int")]
    return _run(df, _candidate_batches, plan, extra)


def canonical_pairs(df: "DataFrame", i_col: str = "i", j_col: str = "j") -> "DataFrame":
    """Candidate pairs in canonical form: ``i < j`` in every row (the two ids swapped where
    needed), each unordered pair once, self-pairs dropped. Other columns are dropped (a
    pair's other values could differ between its two orders). Scores do not depend on the
    order of a pair (every combiner but ``"concat"``), so scoring the canonical pairs loses
    nothing and halves the work of a blocking step that emits both orders.
    """
    from pyspark.sql import functions as F

    _need(df, i_col, j_col)
    lo, hi = F.least(F.col(i_col), F.col(j_col)), F.greatest(F.col(i_col), F.col(j_col))
    return (
        df.select(lo.alias(i_col), hi.alias(j_col))
        .where(F.col(i_col) != F.col(j_col))
        .dropDuplicates([i_col, j_col])
    )
