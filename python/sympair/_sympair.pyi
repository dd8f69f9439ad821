"""Type stubs of the native module `sympair._sympair` (the Rust crate's types)."""

from os import PathLike
from typing import Any, Callable, Literal, Optional, Sequence, Tuple, Union, final, overload

import numpy as np
import numpy.typing as npt

FORMAT_VERSION: int
__version__: str

__all__ = [
    "CandidateSearch",
    "Clusterer",
    "Ensemble",
    "FORMAT_VERSION",
    "ItemPairs",
    "Model",
    "PairDataset",
    "TrainingDiverged",
    "__version__",
    "canonicalize",
    "cluster_metrics",
    "cross_validate",
    "default_search_space",
    "num_threads",
    "set_num_threads",
]

def set_num_threads(n: int) -> None:
    """Threads the crate uses in this process (0 = every core, the default)."""

def num_threads() -> int:
    """The number of threads the crate uses (at least 1)."""

_ArrayLike = npt.ArrayLike
_Combiner = Union[str, Sequence[str]]

class TrainingDiverged(RuntimeError):
    """Training produced a NaN or infinite loss or weight; the model keeps its last finite weights."""

@final
class PairDataset:
    """Labelled pairs as two dense (n, d) float32 matrices; validated and copied once."""

    def __new__(cls, left: _ArrayLike, right: _ArrayLike, labels: _ArrayLike) -> "PairDataset": ...
    def __len__(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def labels(self) -> npt.NDArray[np.float32]: ...
    def split(self, fraction: float, seed: int) -> Tuple["PairDataset", "PairDataset"]: ...

@final
class ItemPairs:
    """Labelled pairs of rows of one item matrix (each embedding stored once)."""

    def __new__(cls, items: _ArrayLike, pairs: _ArrayLike, labels: _ArrayLike) -> "ItemPairs": ...
    def __len__(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def n_items(self) -> int: ...
    @property
    def labels(self) -> npt.NDArray[np.float32]: ...
    @property
    def pairs(self) -> npt.NDArray[np.int64]: ...
    @property
    def items(self) -> npt.NDArray[np.float32]: ...
    @property
    def duplicates_dropped(self) -> int: ...
    @property
    def self_pair_rows(self) -> list[int]: ...
    def split_by_pair(self, fraction: float, seed: int) -> Tuple["ItemPairs", "ItemPairs"]: ...
    def split_by_item(
        self, fraction: float, seed: int
    ) -> Tuple["ItemPairs", "ItemPairs", dict[str, Any]]: ...

_Dataset = Union[PairDataset, ItemPairs, Tuple[_ArrayLike, _ArrayLike, _ArrayLike]]
_ThresholdRule = Union[str, Tuple[str, float]]

@final
class Model:
    """The Rust crate's PairClassifier: optional shared encoder, combiner, head."""

    def __new__(
        cls,
        input_dim: int,
        combiner: Optional[_Combiner] = None,
        hidden: Sequence[int] = ...,  # (64,)
        activation: str = "relu",
        head: str = "mlp",
        learn_scale: bool = True,
        encoder: Optional[Sequence[int]] = None,
        seed: int = 0,
    ) -> "Model": ...
    @property
    def input_dim(self) -> int: ...
    @property
    def combiner(self) -> str: ...
    @property
    def is_symmetric(self) -> bool: ...
    @property
    def n_params(self) -> int: ...
    def parameters(self) -> npt.NDArray[np.float32]: ...
    def fit(
        self,
        train: _Dataset,
        valid: Optional[_Dataset] = None,
        *,
        epochs: int = 20,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        optimizer: str = "adam",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        patience: Optional[int] = None,
        seed: int = 0,
        pos_weight: float = 1.0,
        consistency: float = 0.0,
        swap_augment: bool = False,
        callback: Optional[Callable[[dict[str, Any]], Optional[bool]]] = None,
        monitor: str = "auto",
        min_delta: float = 0.0,
        grad_clip: Optional[float] = None,
        input_noise: float = 0.2,
        input_dropout: float = 0.0,
        head_dropout: float = 0.0,
        encoder_dropout: float = 0.0,
    ) -> dict[str, Any]: ...
    def predict_logits(self, x: _ArrayLike, y: _ArrayLike) -> npt.NDArray[np.float32]: ...
    def encode(self, items: _ArrayLike) -> npt.NDArray[np.float32]: ...
    def fit_metric(
        self,
        train: _Dataset,
        *,
        loss: str = "contrastive",
        margin: float = 1.0,
        temperature: float = 0.05,
        epochs: int = 20,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        seed: int = 0,
    ) -> list[float]: ...
    def calibrate_similarity(self, valid: _Dataset) -> dict[str, Any]: ...
    def calibrate(self, valid: _Dataset, method: str = "platt") -> dict[str, Any]:
        """Fit a Platt ("platt") or temperature ("temperature") calibration on validation pairs."""
    @property
    def calibration(self) -> Optional[dict[str, Any]]:
        """The stored calibration: None, {"method": "platt", "a", "b"} or {"method": "temperature", "t"}."""
    def set_calibration(self, calibration: Optional[dict[str, Any]]) -> None:
        """Store a calibration dict (as `calibration` returns it) or remove it with None."""
    def set_threshold(self, rule: _ThresholdRule, valid: _Dataset) -> dict[str, Any]:
        """Choose and store a probability threshold on validation pairs by `rule`."""
    def set_threshold_probability(self, probability: float) -> None:
        """Store a threshold set by hand, a probability in (0, 1]."""
    def clear_threshold(self) -> None:
        """Remove the stored threshold (predict uses 0.5 again)."""
    @property
    def threshold(self) -> float:
        """The probability cut-off `predict` uses (0.5 unless one is stored)."""
    @property
    def threshold_rule(self) -> Optional[Union[str, Tuple[str, float]]]:
        """The rule of the stored threshold ("manual" when set by hand), None without one."""
    def proba_from_logits(self, logits: _ArrayLike) -> npt.NDArray[np.float32]:
        """Probabilities of raw logits, computed as the model's predict_proba does."""
    def predict_proba(self, x: _ArrayLike, y: _ArrayLike) -> npt.NDArray[np.float32]:
        """Calibrated probabilities of the pairs (x[i], y[i])."""
    def predict(self, x: _ArrayLike, y: _ArrayLike) -> npt.NDArray[np.bool_]:
        """Classes of the pairs: predict_proba(x, y) >= threshold."""
    def predict_logits_stacked(self, pairs: _ArrayLike) -> npt.NDArray[np.float32]: ...
    def predict_logits_ids(
        self, items: _ArrayLike, ids: _ArrayLike, precompute: str = "auto"
    ) -> npt.NDArray[np.float32]: ...
    def logits_for(self, data: _Dataset) -> npt.NDArray[np.float32]: ...
    def evaluate(self, data: _Dataset) -> dict[str, Any]: ...
    def score_all_pairs(
        self, items: _ArrayLike
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def top_k(
        self, queries: _ArrayLike, items: _ArrayLike, k: int
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def to_json_bytes(self) -> bytes: ...
    @staticmethod
    def from_json_bytes(data: bytes) -> "Model": ...
    def save(self, path: Union[str, PathLike[str]]) -> None: ...
    @staticmethod
    def load(path: Union[str, PathLike[str]]) -> "Model": ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class CandidateSearch:
    """An HNSW index over the items' retrieval vectors whose candidates the model scores
    exactly (the crate's ``candidates::CandidateSearch``)."""

    def __new__(
        cls,
        model: Model,
        items: _ArrayLike,
        k: int = 10,
        *,
        candidates: Optional[int] = None,
        connectivity: int = 16,
        expansion_add: Optional[int] = None,
        expansion_search: Optional[int] = None,
        block: int = 4096,
        metric: Optional[str] = None,
        half_precision: bool = False,
        build_threads: Optional[int] = None,
    ) -> "CandidateSearch": ...
    def __len__(self) -> int: ...
    @property
    def n_items(self) -> int: ...
    @property
    def k(self) -> int: ...
    @property
    def candidates(self) -> int: ...
    @property
    def metric(self) -> str: ...
    @property
    def index_bytes(self) -> int: ...
    def neighbours(self, query: int) -> npt.NDArray[np.int64]: ...
    def top_k(
        self, queries: Optional[_ArrayLike] = None
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def pairs_above(
        self, threshold: float
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def write_top_k_csv(self, path: Union[str, PathLike[str]]) -> int: ...
    def write_above_csv(self, path: Union[str, PathLike[str]], threshold: float) -> int: ...

@final
class Clusterer:
    """Connected components of the pairs at or above a probability threshold (union-find)."""

    def __new__(cls, n_items: int, threshold: float = 0.5) -> "Clusterer": ...
    def add(self, i: _ArrayLike, j: _ArrayLike, probabilities: _ArrayLike) -> int: ...
    def add_top_k(
        self,
        partners: _ArrayLike,
        probabilities: _ArrayLike,
        queries: Optional[_ArrayLike] = None,
    ) -> int: ...
    def add_csv(self, path: Union[str, PathLike[str]]) -> int: ...
    @property
    def pairs_seen(self) -> int: ...
    @property
    def pairs_linked(self) -> int: ...
    def labels(self) -> npt.NDArray[np.int64]: ...
    def groups(self, min_size: int = 2) -> list[npt.NDArray[np.int64]]: ...

def cluster_metrics(predicted: _ArrayLike, truth: _ArrayLike) -> dict[str, Any]:
    """Predicted entity labels against true groups: pairwise P/R/F1, B-cubed, ARI."""

def canonicalize(pairs: _ArrayLike) -> Tuple[npt.NDArray[np.int64], dict[str, int]]:
    """Each unordered pair once as (min, max), self-pairs dropped, sorted."""

@overload
def cross_validate(
    data: ItemPairs,
    *,
    combiners: Optional[Sequence[Union[str, Sequence[str]]]] = None,
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
    ensemble: Literal[1] = 1,
    callback: Optional[Callable[[dict[str, Any]], Any]] = None,
) -> Tuple[Model, list[dict[str, Any]]]: ...
@overload
def cross_validate(
    data: ItemPairs,
    *,
    combiners: Optional[Sequence[Union[str, Sequence[str]]]] = None,
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
) -> Tuple[Union[Model, Ensemble], list[dict[str, Any]]]:
    """Item-grouped k-fold cross-validation then a refit (see `sympair.select`).

    No grid argument: the crate's default space (`default_search_space()`); any grid
    argument: every combination of the given axes. Returns `(Model, table)` with
    `ensemble=1`, `(Ensemble, table)` of `ensemble` refits otherwise.
    """

def default_search_space() -> list[str]:
    """Labels of the crate's `SearchSpace::default()` candidates, in search order."""

@final
class Ensemble:
    """Models whose logits are averaged (the crate's `select::Ensemble`): exactly symmetric
    when every member is; saved in the crate's ensemble JSON format."""

    def __new__(cls, members: Sequence[Model]) -> "Ensemble": ...
    @property
    def members(self) -> list[Model]:
        """Copies of the members, in averaging order."""
    def __len__(self) -> int: ...
    @property
    def input_dim(self) -> int: ...
    @property
    def is_symmetric(self) -> bool: ...
    def predict_logits(self, x: _ArrayLike, y: _ArrayLike) -> npt.NDArray[np.float32]:
        """Mean of the members' logits of the pairs (x[i], y[i])."""
    def predict_proba(self, x: _ArrayLike, y: _ArrayLike) -> npt.NDArray[np.float32]:
        """Probabilities of the mean logit, calibrated once `calibrate` ran (the members'
        own calibrations are not applied: the average is of raw logits)."""
    def predict(self, x: _ArrayLike, y: _ArrayLike) -> npt.NDArray[np.bool_]:
        """Classes of the pairs: predict_proba(x, y) >= threshold."""
    def proba_from_logits(self, logits: _ArrayLike) -> npt.NDArray[np.float32]:
        """Probabilities of raw mean logits, computed as the ensemble's predict_proba does."""
    def calibrate(self, valid: _Dataset, method: str = "platt") -> dict[str, Any]:
        """Fit a Platt ("platt") or temperature ("temperature") calibration of the mean logit on validation pairs."""
    @property
    def calibration(self) -> Optional[dict[str, Any]]:
        """The stored calibration: None, {"method": "platt", "a", "b"} or {"method": "temperature", "t"}."""
    def set_calibration(self, calibration: Optional[dict[str, Any]]) -> None:
        """Store a calibration dict (as `calibration` returns it) or remove it with None."""
    def set_threshold(self, rule: _ThresholdRule, valid: _Dataset) -> dict[str, Any]:
        """Choose and store a probability threshold on validation pairs by `rule`."""
    def set_threshold_probability(self, probability: float) -> None:
        """Store a threshold set by hand, a probability in (0, 1]."""
    def clear_threshold(self) -> None:
        """Remove the stored threshold (predict uses 0.5 again)."""
    @property
    def threshold(self) -> float:
        """The probability cut-off `predict` uses (0.5 unless one is stored)."""
    @property
    def threshold_rule(self) -> Optional[Union[str, Tuple[str, float]]]:
        """The rule of the stored threshold ("manual" when set by hand), None without one."""
    def evaluate(self, data: _Dataset) -> dict[str, Any]:
        """Everything Model.evaluate measures, for the ensemble's mean logits and decision."""
    def predict_logits_ids(
        self, items: _ArrayLike, ids: _ArrayLike, precompute: str = "auto"
    ) -> npt.NDArray[np.float32]: ...
    def predict_proba_ids(
        self, items: _ArrayLike, ids: _ArrayLike, precompute: str = "auto"
    ) -> npt.NDArray[np.float32]: ...
    def logits_for(self, data: _Dataset) -> npt.NDArray[np.float32]: ...
    def to_json_bytes(self) -> bytes: ...
    @staticmethod
    def from_json_bytes(data: bytes) -> "Ensemble": ...
    def save(self, path: Union[str, PathLike[str]]) -> None: ...
    @staticmethod
    def load(path: Union[str, PathLike[str]]) -> "Ensemble": ...
    def __eq__(self, other: object, /) -> bool: ...
