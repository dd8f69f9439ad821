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


TRAIN_RSS_SCRIPT = """
import resource, sys
import numpy as np
import sympair
n, d = 200_000, 64
rng = np.random.default_rng(0)
X = rng.standard_normal(size=(n, 2, d), dtype=np.float32)  # no float64 temporary
y = (rng.random(n) < 0.5).astype(np.int64)
clf = sympair.PairClassifier(epochs=1, batch_size=256)
clf.fit(X[:1000], y[:1000])  # warm up: code pages, thread stacks, allocator arenas
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
clf.fit(X, y)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024, X.nbytes)
"""


def test_training_on_float32_arrays_makes_no_copy_of_the_pairs():
    """Peak resident memory grows by far less than the input during `fit` (a copy of the
    pairs, by numpy or by Rust, would add the input's size). Run in a fresh process so
    that earlier peaks do not hide it."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", TRAIN_RSS_SCRIPT], check=True,
                         capture_output=True, text=True).stdout.split()
    grew, input_bytes = int(out[0]), int(out[1])
    assert grew < input_bytes / 4, f"peak RSS grew by {grew} bytes for a {input_bytes}-byte input"


def test_training_in_place_gives_the_same_model_as_a_copied_dataset():
    X, y = cluster_pairs(n=700, d=8, seed=13)
    a = sympair.Model(8, "concat_swap_average", seed=1)
    b = sympair.Model(8, "concat_swap_average", seed=1)
    a.fit((X[:, 0], X[:, 1], y), (X[:100, 0], X[:100, 1], y[:100]), epochs=2)
    b.fit(sympair.PairDataset(X[:, 0], X[:, 1], y), sympair.PairDataset(X[:100, 0], X[:100, 1], y[:100]), epochs=2)
    assert a.to_json_bytes() == b.to_json_bytes()
    assert a.evaluate((X[:, 0], X[:, 1], y)) == b.evaluate(sympair.PairDataset(X[:, 0], X[:, 1], y))
