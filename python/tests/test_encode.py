"""Model.encode: the learned item vectors, usable in a plain numpy nearest-neighbour search."""

import numpy as np
import pytest

import sympair
from conftest import cluster_pairs


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@pytest.fixture(scope="module")
def distance_model():
    X, y = cluster_pairs(n=400, d=8, seed=1)
    model = sympair.Model(8, combiner="squared_diff", encoder=[16, 6], head="distance", seed=3)
    model.fit(sympair.PairDataset(X[:, 0], X[:, 1], y), epochs=3, batch_size=32, seed=2)
    return model


def test_encode_shape_and_identity_without_encoder():
    items = np.random.default_rng(0).normal(size=(9, 5)).astype(np.float32)
    plain = sympair.Model(5, combiner="abs_diff")
    out = plain.encode(items)
    assert out.dtype == np.float32 and out.shape == (9, 5)
    assert np.array_equal(bits(out), bits(items))
    assert out is not items


def test_encode_errors_are_value_errors(distance_model):
    with pytest.raises(ValueError):
        distance_model.encode(np.zeros((3, 7), dtype=np.float32))
    bad = np.zeros((3, 8), dtype=np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="row 1"):
        distance_model.encode(bad)


def test_numpy_nearest_neighbours_on_encode_agree_with_model_top_k(distance_model):
    rng = np.random.default_rng(4)
    items = rng.normal(size=(300, 8)).astype(np.float32) * 2.0
    queries = rng.normal(size=(12, 8)).astype(np.float32) * 2.0
    eq, ei = distance_model.encode(queries), distance_model.encode(items)
    assert eq.shape == (12, 6) and ei.shape == (300, 6)
    # Squared L2 as the distance head sums it: f32 squares summed in f64.
    d2 = (((eq[:, None, :] - ei[None, :, :]) ** 2).astype(np.float64)).sum(axis=2)
    idx, logits = distance_model.top_k(queries, items, 10)
    for q in range(len(queries)):
        nn = np.argsort(d2[q], kind="stable")[:10]
        assert list(nn) == list(idx[q]), q
    # And the vectors are those the model uses: the same logits from encoded pairs.
    assert np.all(np.diff(logits, axis=1) <= 0)


def test_encode_float64_and_strided_input_give_the_same_vectors(distance_model):
    items = np.random.default_rng(5).normal(size=(200, 8))
    a = distance_model.encode(items.astype(np.float32))
    b = distance_model.encode(items)  # float64, converted once
    c = distance_model.encode(np.asfortranarray(items.astype(np.float32)))
    assert np.array_equal(bits(a), bits(b)) and np.array_equal(bits(a), bits(c))
