"""float32 input is read in place: no numpy copy of the pairs is made for prediction.

numpy reports its allocations to `tracemalloc`, so a conversion or copy of the input shows
up as a peak of the input's size; the Rust side allocates only its fixed buffers (invisible
to tracemalloc) and the output."""

import tracemalloc

import numpy as np
import pytest

import sympair
from conftest import cluster_pairs

N, D = 20_000, 64


@pytest.fixture(scope="module")
def clf():
    X, y = cluster_pairs(n=500, d=D, seed=9)
    return sympair.PairClassifier(epochs=1).fit(X, y)


def peak_bytes(f):
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "layout",
    ["C (n, 2, d)", "Fortran (n, 2, d)", "strided views (x, y)", "Fortran (x, y)", "[x | y] 2-d", "ids + items"],
)
def test_float32_prediction_makes_no_copy_of_the_input(clf, layout):
    X, _ = cluster_pairs(n=N, d=D, seed=10)
    inputs = {
        "C (n, 2, d)": (X, {}),
        "Fortran (n, 2, d)": (np.asfortranarray(X), {}),
        "strided views (x, y)": ((X[:, 0], X[:, 1]), {}),
        "Fortran (x, y)": ((np.asfortranarray(X[:, 0]), np.asfortranarray(X[:, 1])), {}),
        "[x | y] 2-d": (X.reshape(N, 2 * D), {}),
        "ids + items": (np.arange(2 * N).reshape(N, 2), {"items": X.reshape(2 * N, D)}),
    }
    data, kw = inputs[layout]
    input_bytes = N * 2 * D * 4
    peak = peak_bytes(lambda: clf.decision_function(data, **kw))
    # Output (n float32) and small objects only; a copy would be >= input_bytes / 2.
    assert peak < input_bytes / 8, f"{layout}: peak {peak} bytes for a {input_bytes}-byte input"


def test_float64_input_is_converted_once(clf):
    X, _ = cluster_pairs(n=N, d=D, seed=10, dtype=np.float64)
    peak = peak_bytes(lambda: clf.decision_function(X))
    f32_bytes = N * 2 * D * 4
    assert f32_bytes <= peak < 3 * f32_bytes
