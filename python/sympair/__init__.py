"""sympair: symmetric pair classifiers on fixed embeddings, with a Rust core.

Given embeddings of items (sentence-transformers, BERT, CLIP vectors) and pairs labelled
1 = similar, 0 = not, ``sympair`` trains a classifier whose score does not depend on the
order of the pair: ``f(x, y) == f(y, x)``, bit for bit.

Two layers:

* :class:`PairClassifier`: a scikit-learn estimator. ``X`` is an ``(n, 2, d)`` array of
  pairs (``X[i, 0]`` and ``X[i, 1]`` are the two items of pair ``i``), an ``(n, 2 d)``
  array ``[x | y]``, a tuple ``(x, y)`` of two ``(n, d)`` arrays, or an ``(n, 2)``
  integer array of item ids together with ``items=`` (an ``(n_items, d)`` matrix).
* :class:`Model`, :class:`PairDataset`, :class:`ItemPairs`: the Rust crate's types
  themselves, for code that mirrors the Rust API (and reads and writes the same files).

Every computation runs in the Rust crate; the GIL is released while it runs.
"""

from __future__ import annotations

import inspect
import sys
import time
from typing import Any, Callable, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np

from ._sympair import (  # noqa: F401  (re-exports)
    FORMAT_VERSION,
    CandidateSearch,
    Clusterer,
    Ensemble,
    ItemPairs,
    Model,
    PairDataset,
    TrainingDiverged,
    __version__,
    num_threads,
    set_num_threads,
    canonicalize,
    cross_validate,
    default_search_space,
)
from ._sympair import cluster_metrics as _cluster_metrics

__all__ = [
    "PairClassifier",
    "Model",
    "PairDataset",
    "ItemPairs",
    "TrainingDiverged",
    "load",
    "select",
    "cross_validate",
    "default_search_space",
    "Ensemble",
    "FORMAT_VERSION",
    "COMBINERS",
    "SIMILARITIES",
    "__version__",
    "set_num_threads",
    "num_threads",
    "CandidateSearch",
    "Clusterer",
    "canonicalize",
    "cluster",
    "cluster_metrics",
    "top_k_pairs",
]

#: Names of the pair combiners (a sequence of single-view ones makes a stack).
COMBINERS = (
    "sum",
    "product",
    "max",
    "abs_diff",
    "squared_diff",
    "concat_swap_average",
    "concat",
)
#: Names of the fixed similarity scores (the calibrated-similarity baseline, width 1).
SIMILARITIES = ("cosine", "dot", "neg_l1", "neg_squared_l2")


def load(path: str) -> Model:
    """Load a model saved by :meth:`Model.save`, :meth:`PairClassifier.save` or Rust's
    ``PairClassifier::save``."""
    return Model.load(path)


_Combiner = Union[str, Sequence[str]]
_Table = list[dict[str, Any]]


@overload
def select(
    items: Any,
    ids: Any,
    labels: Any,
    *,
    combiners: Optional[Sequence[_Combiner]] = ...,
    encoders: Optional[Sequence[Optional[Sequence[int]]]] = ...,
    hidden: Optional[Sequence[Sequence[int]]] = ...,
    learning_rates: Optional[Sequence[float]] = ...,
    weight_decays: Optional[Sequence[float]] = ...,
    head_dropouts: Optional[Sequence[float]] = ...,
    encoder_dropouts: Optional[Sequence[float]] = ...,
    input_dropouts: Optional[Sequence[float]] = ...,
    input_noises: Optional[Sequence[float]] = ...,
    batch_size: Optional[int] = ...,
    max_epochs: Optional[int] = ...,
    folds: int = ...,
    fold_seed: int = ...,
    seed: int = ...,
    ensemble: Literal[1] = ...,
    callback: Optional[Callable[[dict[str, Any]], Any]] = ...,
) -> Tuple[Model, _Table]: ...
@overload
def select(
    items: Any,
    ids: Any,
    labels: Any,
    *,
    combiners: Optional[Sequence[_Combiner]] = ...,
    encoders: Optional[Sequence[Optional[Sequence[int]]]] = ...,
    hidden: Optional[Sequence[Sequence[int]]] = ...,
    learning_rates: Optional[Sequence[float]] = ...,
    weight_decays: Optional[Sequence[float]] = ...,
    head_dropouts: Optional[Sequence[float]] = ...,
    encoder_dropouts: Optional[Sequence[float]] = ...,
    input_dropouts: Optional[Sequence[float]] = ...,
    input_noises: Optional[Sequence[float]] = ...,
    batch_size: Optional[int] = ...,
    max_epochs: Optional[int] = ...,
    folds: int = ...,
    fold_seed: int = ...,
    seed: int = ...,
    ensemble: int = ...,
    callback: Optional[Callable[[dict[str, Any]], Any]] = ...,
) -> Tuple[Union[Model, Ensemble], _Table]: ...
def select(
    items: Any,
    ids: Any,
    labels: Any,
    *,
    combiners: Optional[Sequence[_Combiner]] = None,
    encoders: Optional[Sequence[Optional[Sequence[int]]]] = None,
    hidden: Optional[Sequence[Sequence[int]]] = None,
    learning_rates: Optional[Sequence[float]] = None,
    weight_decays: Optional[Sequence[float]] = None,
    head_dropouts: Optional[Sequence[float]] = None,
    encoder_dropouts: Optional[Sequence[float]] = None,
    input_dropouts: Optional[Sequence[float]] = None,
    input_noises: Optional[Sequence[float]] = None,
    batch_size: Optional[int] = None,
    max_epochs: Optional[int] = None,
    folds: int = 5,
    fold_seed: int = 0,
    seed: int = 0,
    ensemble: int = 1,
    callback: Optional[Callable[[dict[str, Any]], Any]] = None,
) -> Tuple[Union[Model, Ensemble], _Table]:
    """Choose a model by item-grouped k-fold cross-validation, then refit it on all pairs.

    ``items (n_items, d)``, ``ids (n, 2)`` rows of ``items``, ``labels (n,)`` in {0, 1}: the
    training pairs only (keep test pairs out). Each candidate is trained on each of
    ``folds`` folds (no item on both sides of a fold), scored by the mean fold ROC AUC at
    its best epoch; the best is retrained on all pairs for that many epochs (the crate's
    ``select::cross_validate``).

    **Candidates.** With no grid argument (all of ``combiners`` to ``max_epochs`` left at
    ``None``) they are the crate's documented default space, ``SearchSpace::default()``:
    4 candidates (concat + swap-average heads and siamese encoders, with head, encoder and
    input dropout; labels in :func:`default_search_space`). Passing any grid argument
    tries every combination of ``combiners x encoders x hidden x learning_rates x
    weight_decays x head_dropouts x encoder_dropouts x input_dropouts x input_noises``
    instead; an axis not given takes one value (``"concat_swap_average"``, no encoder,
    ``(64,)``, ``1e-3``, and 0 for the weight decay, dropouts and noise). An encoder is
    its hidden widths then its output width, e.g. ``(256, 128)``; encoder dropout applies
    only to candidates with an encoder. Adam, batch ``batch_size`` (default 256), up to
    ``max_epochs`` (default 30) epochs.

    **Returns** ``(model, table)``. ``model`` is the refitted :class:`Model` when
    ``ensemble=1`` (the default); with ``ensemble=k > 1`` it is an :class:`Ensemble` of
    ``k`` refits of the chosen candidate (refit ``j`` with model seed ``seed + j``; the
    first is the single refit) whose logits are averaged, still exactly symmetric.
    ``table`` has one dict per candidate: ``label``, ``mean_auc``, ``std_auc``, ``epochs``
    (chosen), ``fold_aucs``, ``mean_train_loss``, ``seconds``, the regularisers
    ``head_dropout``, ``encoder_dropout``, ``input_dropout``, ``input_noise``,
    ``weight_decay``, and ``chosen``. ``callback(report)`` receives a dict after every fit.

    Raises ``ValueError`` on invalid settings (``folds < 2``, ``ensemble=0``, a dropout
    outside ``[0, 1)``, a negative noise or weight decay, an empty grid axis).
    """
    y = np.asarray(labels)
    data = ItemPairs(items, ids, y.astype(np.float32))

    def listed(v: Optional[Sequence[Any]]) -> Optional[list[Any]]:
        return None if v is None else list(v)

    return cross_validate(
        data,
        combiners=listed(combiners),
        encoders=None if encoders is None else [None if e is None else list(e) for e in encoders],
        hidden=None if hidden is None else [list(h) for h in hidden],
        learning_rates=listed(learning_rates),
        weight_decays=listed(weight_decays),
        head_dropouts=listed(head_dropouts),
        encoder_dropouts=listed(encoder_dropouts),
        input_dropouts=listed(input_dropouts),
        input_noises=listed(input_noises),
        batch_size=batch_size,
        max_epochs=max_epochs,
        folds=folds,
        fold_seed=fold_seed,
        seed=seed,
        ensemble=ensemble,
        callback=callback,
    )


def top_k_pairs(
    partners: Any, probabilities: Any, queries: Any = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``(n, k)`` output of :meth:`CandidateSearch.top_k` as flat ``(i, j, p)`` arrays
    (int64, int64, float32), row by row, padding (partner ``-1``) dropped. ``queries`` are
    the items of the rows (default: row ``r`` is item ``r``). Each unordered pair found from
    both of its items appears twice, once per order; :func:`canonicalize` the ``(i, j)``
    pairs, or cluster them as they are (:func:`cluster` does not mind repeats)."""
    partners = np.asarray(partners)
    probabilities = np.asarray(probabilities)
    if partners.ndim != 2 or partners.shape != probabilities.shape:
        raise ValueError(
            "partners and probabilities must be two arrays of one shape (n, k), got "
            f"{partners.shape} and {probabilities.shape}"
        )
    rows = np.arange(len(partners)) if queries is None else np.asarray(queries)
    if rows.shape != (len(partners),):
        raise ValueError(f"queries must have shape ({len(partners)},), got {rows.shape}")
    keep = partners != -1
    i = np.broadcast_to(rows.astype(np.int64)[:, None], partners.shape)[keep]
    return i, partners[keep].astype(np.int64), probabilities[keep].astype(np.float32)


def cluster(i: Any, j: Any, probabilities: Any, n_items: int, threshold: float = 0.5) -> np.ndarray:
    """Entities from scored pairs: the connected components of the pairs ``(i[r], j[r])``
    whose probability is at least ``threshold`` (a union-find, as Splink and dedupe do).
    Returns one int64 label per item, ``0, 1, ...`` in order of each entity's smallest item
    (an item in no kept pair is an entity of its own). For streams too large for memory,
    feed a :class:`Clusterer` chunk by chunk or with :meth:`Clusterer.add_csv`."""
    c = Clusterer(n_items, threshold)
    c.add(i, j, probabilities)
    return c.labels()


def cluster_metrics(predicted: Any, truth: Any) -> dict[str, Any]:
    """Scores predicted entity labels against true group labels (one label per item, any
    values: only equality counts): a dict with the pairwise ``pair_precision``,
    ``pair_recall``, ``pair_f1`` (over unordered pairs put in one entity) and the pair
    counts ``tp``, ``fp``, ``fn``, ``tn``; ``bcubed_precision``, ``bcubed_recall``,
    ``bcubed_f1`` (per item, averaged); ``adjusted_rand`` (1 = identical partitions, about 0
    = independent); ``n_predicted`` and ``n_true`` (numbers of entities). Computed in
    ``O(n)`` from the contingency table (the crate's ``cluster::ClusterMetrics``)."""
    p, t = np.asarray(predicted), np.asarray(truth)
    for name, a in (("predicted", p), ("truth", t)):
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-dimensional, got shape {a.shape}")
    # Labels of any type (strings, floats) become dense integers; only equality matters.
    if p.dtype.kind not in "iub":
        p = np.unique(p, return_inverse=True)[1]
    if t.dtype.kind not in "iub":
        t = np.unique(t, return_inverse=True)[1]
    return _cluster_metrics(p.astype(np.int64), t.astype(np.int64))


try:  # scikit-learn is optional: without it the estimator keeps its own get/set_params.
    from sklearn.base import BaseEstimator, ClassifierMixin  # type: ignore[import-untyped]

    _HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _HAVE_SKLEARN = False

    class BaseEstimator:  # type: ignore[no-redef]
        """Minimal stand-in for ``sklearn.base.BaseEstimator``."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p for p in sig.parameters if p != "self")

        def get_params(self, deep: bool = True) -> dict:
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params):
            for k, v in params.items():
                if k not in self._get_param_names():
                    raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}")
                setattr(self, k, v)
            return self

    class ClassifierMixin:  # type: ignore[no-redef]
        """Minimal stand-in for ``sklearn.base.ClassifierMixin``."""

        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None, **kw):
            pred = self.predict(X, **kw)
            y = np.asarray(y)
            if sample_weight is None:
                return float(np.mean(pred == y))
            w = np.asarray(sample_weight, dtype=float)
            return float(np.sum(w * (pred == y)) / np.sum(w))


PairInput = Union[np.ndarray, Tuple[np.ndarray, np.ndarray], Sequence]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function in float64 (used by ``sympair.spark``; the
    estimator's probabilities are the Rust model's, see ``PairClassifier.predict_proba``)."""
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


class _ProgressBar:
    """A one-line text progress bar on stderr (used by ``verbose=True``)."""

    def __init__(self, epochs: int, width: int = 30):
        self.epochs = max(int(epochs), 1)
        self.width = width
        self.start = time.perf_counter()

    def __call__(self, stats: dict) -> None:
        done = stats["epoch"] + 1
        fill = int(self.width * done / self.epochs)
        bar = "#" * fill + "-" * (self.width - fill)
        msg = f"\r[{bar}] epoch {done}/{self.epochs}  train loss {stats['train_loss']:.4f}"
        if stats.get("valid_loss") is not None:
            msg += f"  valid loss {stats['valid_loss']:.4f}"
        if stats.get("valid_auc") is not None:
            msg += f"  valid AUC {stats['valid_auc']:.4f}"
        msg += f"  {time.perf_counter() - self.start:.1f}s"
        sys.stderr.write(msg)
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


class PairClassifier(ClassifierMixin, BaseEstimator):
    """A symmetric pair classifier with the scikit-learn estimator interface.

    The model is the Rust crate's ``PairClassifier``: an optional shared ``encoder`` applied
    to both items with the same weights, a ``combiner`` that turns the two (encoded) items
    into one feature row, and a ``head`` that turns the row into a logit. With every
    combiner but ``"concat"`` the logit of ``(x, y)`` and ``(y, x)`` is the same bit for bit.

    Parameters
    ----------
    combiner : str or tuple of str, default="abs_diff"
        One of :data:`COMBINERS` (``"sum"``, ``"product"``, ``"max"``, ``"abs_diff"``,
        ``"squared_diff"``, ``"concat_swap_average"``, ``"concat"`` (not symmetric, for
        comparisons)), one of :data:`SIMILARITIES` (``"cosine"``, ``"dot"``, ``"neg_l1"``,
        ``"neg_squared_l2"``: a fixed similarity score, use with ``hidden=()`` for the
        calibrated-similarity baseline), or a tuple of single-view combiners side by side
        (a stack, e.g. ``("sum", "product", "abs_diff")``).
    hidden : tuple of int, default=(64,)
        Hidden widths of the MLP head; ``()`` is logistic regression on the combined row.
        Ignored by ``head="distance"``.
    encoder : tuple of int or None, default=None
        Shared encoder: its hidden widths, then its output width. ``(128, 32)`` is one
        hidden layer of 128 and 32 outputs; ``(32,)`` is a linear map to 32 dimensions.
    head : {"mlp", "distance"}, default="mlp"
        ``"distance"`` is the parameter-free distance head ``P(similar) = exp(-s * sum c)``
        on a non-negative combiner (``"squared_diff"`` or ``"abs_diff"``), with the scale
        ``s`` learnt if ``learn_scale``.
    activation : {"relu", "leaky_relu", "tanh", "gelu"}, default="relu"
        Hidden-layer activation of the head and the encoder.
    learn_scale : bool, default=True
        Whether the distance head learns its scale.
    epochs : int, default=20
        Passes over the training pairs.
    batch_size : int, default=64
        Pairs per mini-batch.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    weight_decay : float, default=0.0
        Decoupled weight decay (AdamW).
    pos_weight : float, default=1.0
        Weight of the positive ("similar") class in the loss.
    consistency : float, default=0.0
        For ``combiner="concat"`` only: penalty ``consistency * mean (logit(x, y) -
        logit(y, x))^2`` on the order dependence.
    swap_augment : bool, default=False
        Also train every pair in the order ``(y, x)``.
    patience : int or None, default=None
        Early stopping after this many epochs without improvement of ``monitor``; the best
        weights are restored. ``None``: no early stopping.
    monitor : str, default="auto"
        What early stopping watches: ``"auto"`` (validation ROC AUC when ``eval_set`` is
        given to :meth:`fit`, else the training loss), ``"valid_auc"``, ``"valid_ap"``,
        ``"valid_loss"`` or ``"train_loss"``.
    min_delta : float, default=0.0
        Smallest change of ``monitor`` that counts as an improvement.
    grad_clip : float or None, default=None
        Clip each mini-batch gradient to this L2 norm. ``None``: off.
    input_noise : float, default=0.2
        Gaussian noise added to the item embeddings during training, with a standard
        deviation of ``input_noise`` times the spread of the training embeddings (the root
        mean of the per-column variances; per item, a pair and its swapped copy share it).
        Prediction is untouched. The default 0.2 is measured (`cargo run --release --example
        regularisers`); 0 turns it off.
    input_dropout : float, default=0.0
        Probability of zeroing each embedding value during training (per item, scaled by
        ``1 / (1 - p)``). Prediction is untouched.
    head_dropout : float, default=0.0
        Dropout rate of the MLP head's hidden layers during training (inverted dropout,
        in ``[0, 1)``; seeded, the same for any number of threads). Prediction is untouched
        and stays exactly symmetric.
    encoder_dropout : float, default=0.0
        Dropout rate of the encoder's hidden layers during training (per item; an item and
        its copy in the swapped pair share the mask). Prediction is untouched.
    random_state : int or None, default=0
        Seed of the weight initialisation and of the shuffling. ``None`` draws one from
        numpy's global generator. The same seed gives bit-identical weights.
    verbose : bool, default=False
        Draw a progress bar on stderr during :meth:`fit`.
    calibration : {None, "platt", "temperature"}, default=None
        After training, fit a calibration of the logits on the validation pairs (see
        below) and store it in the model: ``"platt"`` makes :meth:`predict_proba`
        ``sigmoid(a z + b)``, ``"temperature"`` ``sigmoid(z / t)``. ``None``: plain
        ``sigmoid(z)``. Fitting fails with ``ValueError`` when the trained model ranks the
        validation pairs no better than chance (no increasing map exists).
    threshold : None, "max_f1", "max_accuracy", ("target_precision", p) or float, default=None
        The probability cut-off of :meth:`predict`, stored in the model. A rule is applied
        to the (calibrated) probabilities of the validation pairs after calibration; a
        float in ``(0, 1]`` is used as given. ``None``: 0.5.
    validation_fraction : float or None, default=None
        Validation pairs for ``calibration`` and ``threshold`` (and for early stopping and
        the per-epoch validation scores) when :meth:`fit` gets no ``eval_set``: this
        fraction of the training pairs, drawn per class with ``random_state``, is held out
        of training. ``calibration`` or a rule ``threshold`` needs one of the two, since
        the training pairs would make the model look over-confident.

    Attributes
    ----------
    model_ : Model
        The fitted Rust model (save it with :meth:`save`, load it in Rust or Python).
    classes_ : ndarray of shape (2,)
        The two labels, in sorted order; ``classes_[1]`` is "similar".
    dim_ : int
        Width ``d`` of one item embedding.
    n_features_in_ : int
        ``2 * d``, the width of a pair written as ``[x | y]``.
    history_ : dict
        Per-epoch training record (``"epochs"``: list of dicts with ``train_loss``,
        ``train_auc`` (on a fixed sample of training pairs), ``valid_loss``, ``valid_auc``,
        ``valid_ap``, ``elapsed``; ``"best_epoch"``; ``"stopped_early"``; ``"warnings"``:
        messages when training did not learn).
    calibration_ : dict or None
        The model's calibration (``{"method": "platt", "a": ..., "b": ...}`` or
        ``{"method": "temperature", "t": ...}``), read from :attr:`model_`.
    threshold_ : float
        The probability cut-off :meth:`predict` uses (0.5 unless one is stored).
    threshold_choice_ : dict or None
        What the ``threshold`` rule reached on the validation pairs (``threshold``,
        ``value``, ``confusion``); ``None`` without a rule.

    Notes
    -----
    Input formats for ``X`` (all methods):

    * ``(n, 2, d)`` float array: pair ``i`` is ``(X[i, 0], X[i, 1])``. scikit-learn slices it
      along the first axis, so it works with ``cross_val_score`` and ``GridSearchCV``.
    * ``(n, 2 d)`` float array ``[x | y]``: the first ``d`` columns are ``x``.
    * ``(x, y)``: a tuple of two ``(n, d)`` arrays (not sliceable by scikit-learn).
    * ``(n, 2)`` integer array of row ids into ``items`` (pass ``items=`` to :meth:`fit`;
      prediction reuses the fitted ``items`` for integer ``(n, 2)`` input unless given
      again). Without ``items`` an integer ``X`` is dense data like any other.

    float32 input is read in place (C or Fortran order or strided views), for training as
    well as prediction; float64 is converted to float32 once. Item-indexed training copies
    the item matrix once (the crate's ``ItemPairs``, which also drops repeated pairs and
    rejects a pair given two labels).

    Probabilities and classes are the Rust model's own: :meth:`predict_proba` is the
    crate's ``predict_proba`` (float32 ``sigmoid`` of the calibrated logit, returned as
    float64 holding the same values) and :meth:`predict` is ``predict_proba(X)[:, 1] >=
    threshold_``, so a saved model gives the same probabilities and classes in Rust.
    """

    def __init__(
        self,
        combiner: Union[str, Tuple[str, ...]] = "abs_diff",
        hidden: Tuple[int, ...] = (64,),
        encoder: Optional[Tuple[int, ...]] = None,
        head: str = "mlp",
        activation: str = "relu",
        learn_scale: bool = True,
        epochs: int = 20,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        pos_weight: float = 1.0,
        consistency: float = 0.0,
        swap_augment: bool = False,
        patience: Optional[int] = None,
        random_state: Optional[int] = 0,
        verbose: bool = False,
        monitor: str = "auto",
        min_delta: float = 0.0,
        grad_clip: Optional[float] = None,
        input_noise: float = 0.2,
        input_dropout: float = 0.0,
        calibration: Optional[str] = None,
        threshold: Union[None, str, Tuple[str, float], float] = None,
        validation_fraction: Optional[float] = None,
        head_dropout: float = 0.0,
        encoder_dropout: float = 0.0,
    ):
        self.combiner = combiner
        self.hidden = hidden
        self.encoder = encoder
        self.head = head
        self.activation = activation
        self.learn_scale = learn_scale
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.pos_weight = pos_weight
        self.consistency = consistency
        self.swap_augment = swap_augment
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose
        self.monitor = monitor
        self.min_delta = min_delta
        self.grad_clip = grad_clip
        self.input_noise = input_noise
        self.input_dropout = input_dropout
        self.calibration = calibration
        self.threshold = threshold
        self.validation_fraction = validation_fraction
        self.head_dropout = head_dropout
        self.encoder_dropout = encoder_dropout

    # -- scikit-learn plumbing ---------------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.two_d_array = True
        tags.target_tags.required = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_class = False
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"binary_only": True, "X_types": ["3darray", "2darray"]}

    def _seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return int(np.random.randint(0, 2**31 - 1))
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        if isinstance(rs, (bool, np.bool_)) or not isinstance(rs, (int, np.integer)):
            raise TypeError(f"random_state must be an int, a RandomState or None, got {rs!r}")
        if rs < 0:
            raise ValueError(f"random_state must be >= 0, got {rs}")
        return int(rs)

    # -- input conversion ----------------------------------------------------------------

    @staticmethod
    def _is_ids(X) -> bool:
        X = np.asarray(X) if isinstance(X, (list, np.ndarray)) else X
        return (
            isinstance(X, np.ndarray)
            and X.ndim == 2
            and X.shape[1] == 2
            and X.dtype.kind in "iu"
        )

    def _dense(self, X, *, check_width: bool = False) -> Tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` views of a dense pair input (no copy for float32)."""
        if isinstance(X, tuple):
            if len(X) != 2:
                raise ValueError(f"a tuple X must be (x, y), got {len(X)} elements")
            x, y = np.asarray(X[0]), np.asarray(X[1])
            if x.ndim != 2 or y.ndim != 2:
                raise ValueError(
                    f"x and y must be 2-dimensional (n, d), got shapes {x.shape} and {y.shape}"
                )
            return x, y
        if _HAVE_SKLEARN:
            # scikit-learn's own conversion: its messages for sparse, complex, object and
            # empty input; float32 arrays pass through without a copy. NaN/inf are left to
            # the crate, whose message names the row and column.
            from sklearn.utils.validation import check_array  # type: ignore[import-untyped]

            X = check_array(
                X,
                accept_sparse=False,
                dtype=("numeric" if getattr(X, "dtype", None) not in (np.float32, np.float64) else None),
                allow_nd=True,
                ensure_all_finite=False,
                ensure_min_samples=1,
                ensure_min_features=1,
            )
        else:
            X = np.asarray(X)
            if X.dtype.kind not in "fiub":
                raise TypeError(f"X must be a float array, got dtype {X.dtype}")
        if X.ndim == 3:
            if X.shape[1] != 2:
                raise ValueError(f"a 3-d X must have shape (n, 2, d), got {X.shape}")
            return X[:, 0, :], X[:, 1, :]
        if X.ndim == 2:
            if check_width and X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            if X.shape[1] % 2 != 0:
                raise ValueError(
                    f"a 2-d X is [x | y] and needs an even number of columns, got {X.shape[1]} "
                    "feature(s)"
                )
            d = X.shape[1] // 2
            return X[:, :d], X[:, d:]
        raise ValueError(
            f"X must be an (n, 2, d) or (n, 2 d) array or an (x, y) tuple, got shape {X.shape}"
        )

    def _encode_labels(self, y) -> np.ndarray:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            row = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(f"invalid label {y[row]} at row {row}: labels must be finite")
        if _HAVE_SKLEARN:
            from sklearn.utils.multiclass import type_of_target  # type: ignore[import-untyped]

            kind = type_of_target(y)
            if kind not in ("binary", "multiclass"):
                raise ValueError(f"Unknown label type: {kind}. sympair needs binary labels.")
        classes = np.unique(y)
        if len(classes) > 2:
            raise ValueError(
                "Only binary classification is supported (a pair is similar or not). "
                f"The type of the target is multiclass ({len(classes)} classes)."
            )
        if len(classes) < 2:
            raise ValueError(
                f"y holds one class only ({classes!r}); a pair classifier needs both classes"
            )
        self.classes_ = classes
        return (y == classes[1]).astype(np.float32)

    def _dataset(self, X, y01: np.ndarray, items):
        if items is not None:
            return ItemPairs(items, X, y01)
        x, yy = self._dense(X)
        if len(x) != len(y01):
            raise ValueError(f"X has {len(x)} pairs but y has {len(y01)} labels")
        # A tuple is read in place by the crate (validated once, never copied whole).
        return (x, yy, y01)

    # -- training ------------------------------------------------------------------------

    def fit(
        self,
        X: PairInput,
        y,
        *,
        items: Optional[np.ndarray] = None,
        eval_set: Optional[Tuple[PairInput, Any]] = None,
        callback: Optional[Callable[[dict], Optional[bool]]] = None,
    ) -> "PairClassifier":
        """Train on labelled pairs.

        Parameters
        ----------
        X : pair input (see the class notes)
        y : array-like of shape (n,)
            Two classes; the larger one (``classes_[1]``) means "similar".
        items : ndarray of shape (n_items, d), optional
            Item embeddings when ``X`` holds ``(n, 2)`` integer ids. Kept (by reference) for
            prediction on ids.
        eval_set : (X_valid, y_valid), optional
            Validation pairs: loss and ROC AUC after every epoch, early stopping, and the
            pairs ``calibration`` and ``threshold`` are fitted on (else
            ``validation_fraction`` of the training pairs is held out for them).
        callback : callable, optional
            Called after every epoch with a dict (``epoch``, ``train_loss``, ``valid_loss``,
            ``valid_auc``, ``elapsed``); returning ``False`` stops training.

        Ctrl-C stops training after the current epoch with ``KeyboardInterrupt``; the
        estimator is then fitted with the weights of the last finished epoch.
        """
        y01 = self._encode_labels(y)
        self._check_decision_params()
        if self._needs_validation() and eval_set is None and self.validation_fraction is None:
            raise ValueError(
                f"calibration={self.calibration!r} and threshold={self.threshold!r} are fitted "
                "on validation pairs: pass fit(..., eval_set=(X_valid, y_valid)) or set "
                "validation_fraction"
            )
        if eval_set is None and self.validation_fraction is not None:
            X, y01, valid = self._hold_out(X, y01, items)
        else:
            valid = None
        train = self._dataset(X, y01, items)
        d = train[0].shape[1] if isinstance(train, tuple) else train.dim
        if eval_set is not None:
            Xv, yv = eval_set
            yv = np.asarray(yv)
            if yv.ndim != 1:
                raise ValueError(f"eval_set labels must be 1-dimensional, got shape {yv.shape}")
            unknown = ~np.isin(yv, self.classes_)
            if unknown.any():
                row = int(np.flatnonzero(unknown)[0])
                raise ValueError(f"eval_set label {yv[row]!r} at row {row} is not one of {self.classes_!r}")
            valid = self._dataset(Xv, (yv == self.classes_[1]).astype(np.float32), items)
        hidden = tuple(int(h) for h in self.hidden)
        encoder = None if self.encoder is None else tuple(int(w) for w in self.encoder)
        seed = self._seed()
        model = Model(
            d,
            self.combiner if isinstance(self.combiner, str) else tuple(self.combiner),
            hidden=list(hidden),
            activation=self.activation,
            head=self.head,
            learn_scale=bool(self.learn_scale),
            encoder=None if encoder is None else list(encoder),
            seed=seed,
        )
        # Fitted state is set before training, so that an interrupted fit leaves a usable
        # estimator (the weights of the last finished epoch).
        self.model_ = model
        self.dim_ = d
        self.n_features_in_ = 2 * d
        self.items_ = items
        self.threshold_choice_: Optional[dict] = None
        epochs_seen: list = []
        self.history_: dict = {
            "epochs": epochs_seen,
            "best_epoch": None,
            "stopped_early": False,
            "warnings": [],
        }
        bar = _ProgressBar(self.epochs) if self.verbose else None

        def on_epoch(stats: dict):
            epochs_seen.append(stats)
            if bar is not None:
                bar(stats)
            if callback is not None:
                return callback(stats)
            return None

        try:
            self.history_ = model.fit(
                train,
                valid,
                epochs=self.epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                pos_weight=self.pos_weight,
                consistency=self.consistency,
                swap_augment=bool(self.swap_augment),
                patience=self.patience,
                seed=seed,
                callback=on_epoch,
                monitor=self.monitor,
                min_delta=self.min_delta,
                grad_clip=self.grad_clip,
                input_noise=self.input_noise,
                input_dropout=self.input_dropout,
                head_dropout=self.head_dropout,
                encoder_dropout=self.encoder_dropout,
            )
        finally:
            if bar is not None:
                bar.close()
        self._fit_decision(valid)
        return self

    # -- calibration and threshold -------------------------------------------------------

    def _needs_validation(self) -> bool:
        return self.calibration is not None or isinstance(self.threshold, (str, tuple, list))

    def _check_decision_params(self) -> None:
        """Refuses bad ``calibration``/``threshold``/``validation_fraction`` before training."""
        if self.calibration not in (None, "platt", "temperature"):
            raise ValueError(
                f"calibration must be None, \"platt\" or \"temperature\", got {self.calibration!r}"
            )
        t = self.threshold
        if isinstance(t, (bool, np.bool_)):
            raise TypeError(f"threshold must be a rule or a probability, got {t!r}")
        if isinstance(t, (int, float, np.integer, np.floating)):
            if not 0.0 < float(t) <= 1.0:
                raise ValueError(f"threshold must be a probability in (0, 1], got {t!r}")
        elif t is not None and t not in ("max_f1", "max_accuracy"):
            ok = (
                isinstance(t, (tuple, list))
                and len(t) == 2
                and t[0] == "target_precision"
                and isinstance(t[1], (int, float, np.integer, np.floating))
                and 0.0 < float(t[1]) <= 1.0
            )
            if not ok:
                raise ValueError(
                    "threshold must be None, \"max_f1\", \"max_accuracy\", "
                    f"(\"target_precision\", p) with p in (0, 1], or a probability; got {t!r}"
                )
        vf = self.validation_fraction
        if vf is not None and not (isinstance(vf, (float, int, np.floating, np.integer))
                                   and not isinstance(vf, (bool, np.bool_)) and 0.0 < vf < 1.0):
            raise ValueError(f"validation_fraction must be None or in (0, 1), got {vf!r}")

    def _hold_out(self, X, y01: np.ndarray, items):
        """Splits ``validation_fraction`` of the pairs (per class, seeded by
        ``random_state``) off the training pairs: ``(X_train, y_train, valid)``."""
        rs = self.random_state
        rng = rs if isinstance(rs, np.random.RandomState) else np.random.RandomState(
            None if rs is None else int(rs)
        )
        fraction = self.validation_fraction
        assert fraction is not None, "fit holds pairs out only with a validation_fraction"
        held = np.zeros(len(y01), dtype=bool)
        for c in (0.0, 1.0):
            rows = np.flatnonzero(y01 == c)
            k = int(round(float(fraction) * len(rows)))
            k = min(max(k, 1), len(rows) - 1)
            held[rng.permutation(rows)[:k]] = True
        keep = ~held

        def rows_of(A, mask):
            if isinstance(A, tuple):
                return tuple(np.asarray(a)[mask] for a in A)
            return np.asarray(A)[mask]

        valid = self._dataset(rows_of(X, held), y01[held], items)
        return rows_of(X, keep), y01[keep], valid

    def _fit_decision(self, valid) -> None:
        """Fits ``calibration`` then ``threshold`` on ``valid`` and stores both in the
        model (in that order: calibrating removes a stored threshold)."""
        if self.calibration is not None:
            assert valid is not None, "fit checks that calibration has validation pairs"
            self.model_.calibrate(valid, self.calibration)
        t = self.threshold
        if t is None:
            return
        if isinstance(t, (str, tuple, list)):
            assert valid is not None, "fit checks that a rule threshold has validation pairs"
            rule = t if isinstance(t, str) else (str(t[0]), float(t[1]))
            self.threshold_choice_ = self.model_.set_threshold(rule, valid)
        else:
            self.model_.set_threshold_probability(float(t))

    @property
    def calibration_(self) -> Optional[dict]:
        """The fitted model's calibration (``None`` without one)."""
        self._check_fitted()
        return self.model_.calibration

    @property
    def threshold_(self) -> float:
        """The probability cut-off :meth:`predict` uses."""
        self._check_fitted()
        return self.model_.threshold

    # -- prediction ----------------------------------------------------------------------

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            try:
                from sklearn.exceptions import NotFittedError  # type: ignore[import-untyped]
            except ImportError:  # pragma: no cover
                NotFittedError = AttributeError  # type: ignore[misc,assignment]
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first."
            )

    def decision_function(self, X: PairInput, *, items: Optional[np.ndarray] = None) -> np.ndarray:
        """Logits (float32), one per pair; ``>= 0`` means "similar" (``classes_[1]``)."""
        self._check_fitted()
        if items is None and getattr(self, "items_", None) is not None and self._is_ids(X):
            items = self.items_
        if items is not None:
            return self.model_.predict_logits_ids(items, X)
        if isinstance(X, np.ndarray) and X.ndim == 3 and X.dtype == np.float32:
            return self.model_.predict_logits_stacked(X)
        x, y = self._dense(X, check_width=True)
        return self.model_.predict_logits(x, y)

    def _proba1(self, X: PairInput, items: Optional[np.ndarray]) -> np.ndarray:
        """float32 probabilities of "similar": the Rust model's ``predict_proba``."""
        z = self.decision_function(X, items=items)  # checks that the estimator is fitted
        return self.model_.proba_from_logits(z)

    def predict_proba(self, X: PairInput, *, items: Optional[np.ndarray] = None) -> np.ndarray:
        """``(n, 2)`` probabilities of ``classes_[0]`` and ``classes_[1]`` ("similar").

        Column 1 is the Rust model's ``predict_proba``: the float32 ``sigmoid`` of the
        calibrated logit (of the raw logit without a calibration), bit for bit, held in
        float64; column 0 is ``1 - p``."""
        p = self._proba1(X, items).astype(np.float64)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: PairInput, *, items: Optional[np.ndarray] = None) -> np.ndarray:
        """Class labels: ``classes_[1]`` where ``predict_proba(X)[:, 1] >= threshold_``
        (the Rust model's ``predict``; the threshold is 0.5 unless one is stored)."""
        p = self._proba1(X, items)
        return self.classes_[(p >= np.float32(self.model_.threshold)).astype(np.intp)]

    def score(self, X, y, sample_weight=None, *, items=None) -> float:
        """Accuracy of :meth:`predict` (scikit-learn's ``ClassifierMixin.score``)."""
        pred = self.predict(X, items=items)
        y = np.asarray(y)
        ok = (pred == y).astype(np.float64)
        if sample_weight is None:
            return float(ok.mean()) if len(ok) else 0.0
        w = np.asarray(sample_weight, dtype=np.float64)
        return float(np.sum(w * ok) / np.sum(w))

    # -- reports and scoring ---------------------------------------------------------------

    def evaluate(self, X: PairInput, y, *, items: Optional[np.ndarray] = None) -> dict:
        """Everything the crate's ``evaluate`` measures on labelled pairs, as a dict: ROC AUC,
        average precision, log loss, confusion counts, accuracy/precision/recall/F1/MCC at
        logit 0, the best-accuracy and best-F1 cut-offs, and the asymmetry
        ``|logit(x, y) - logit(y, x)|`` (mean and max)."""
        self._check_fitted()
        y = np.asarray(y)
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise ValueError(f"label {y[row]!r} at row {row} is not one of {self.classes_!r}")
        y01 = (y == self.classes_[1]).astype(np.float32)
        if items is None and getattr(self, "items_", None) is not None and self._is_ids(X):
            items = self.items_
        return self.model_.evaluate(self._dataset(X, y01, items))

    def score_all_pairs(self, items: np.ndarray):
        """Logits of every unordered pair ``i < j`` of the rows of ``items``:
        ``(i, j, logits)``, three arrays of length ``n (n - 1) / 2``."""
        self._check_fitted()
        return self.model_.score_all_pairs(items)

    def top_k(self, queries: np.ndarray, items: np.ndarray, k: int):
        """For each query row, the ``k`` rows of ``items`` it most likely matches:
        ``(indices, logits)``, both ``(n_queries, min(k, n_items))``, best first."""
        self._check_fitted()
        return self.model_.top_k(queries, items, k)

    def candidate_search(self, items: Optional[np.ndarray] = None, k: int = 10, **options: Any) -> CandidateSearch:
        """A :class:`CandidateSearch` over ``items`` (default: the ``items=`` given to
        :meth:`fit`) with the fitted model: the best ``k`` partners of every item, or all
        pairs above a probability, without scoring all pairs. ``options`` are those of
        :class:`CandidateSearch` (``candidates``, ``connectivity``, ``build_threads``, ...)."""
        self._check_fitted()
        if items is None:
            items = getattr(self, "items_", None)
            if items is None:
                raise ValueError("pass items=: the model was not fitted on an item matrix")
        return CandidateSearch(self.model_, items, k, **options)

    # -- persistence -------------------------------------------------------------------------

    def save(self, path: str) -> None:
        """Save the fitted model in the Rust crate's JSON format (``PairClassifier::load``
        in Rust reads it; so does :meth:`load`)."""
        self._check_fitted()
        self.model_.save(path)

    @classmethod
    def load(cls, path: str, classes=(0, 1)) -> "PairClassifier":
        """A fitted estimator from a model file written by Python or Rust. The training
        hyperparameters are not stored in the file and keep their defaults."""
        return cls.from_model(Model.load(path), classes=classes)

    @classmethod
    def from_model(cls, model: Model, classes=(0, 1)) -> "PairClassifier":
        """A fitted estimator around an existing :class:`Model`."""
        est = cls()
        est.model_ = model
        est.classes_ = np.asarray(classes)
        est.dim_ = model.input_dim
        est.n_features_in_ = 2 * model.input_dim
        est.items_ = None
        est.history_ = {"epochs": [], "best_epoch": None, "stopped_early": False}
        est.threshold_choice_ = None
        return est
