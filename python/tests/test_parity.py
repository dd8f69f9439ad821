"""Models pass between Rust and Python through the saved-model format, bit for bit.

The Rust side is `examples/python_parity.rs` (built by the `parity_bin` fixture)."""

import subprocess

import numpy as np
import pytest

import sympair
from conftest import cluster_pairs

# Python mirrors of `families` in examples/python_parity.rs (keep the two lists in step).
FAMILIES = {
    "abs_diff": dict(combiner="abs_diff"),
    "concat_swap_average": dict(combiner="concat_swap_average"),
    "concat": dict(combiner="concat"),
    "stack": dict(combiner=("sum", "product", "abs_diff")),
    "encoder_distance": dict(combiner="squared_diff", encoder=[16, 8], head="distance"),
    "cosine": dict(combiner="cosine", hidden=[]),
}
RUST_TRAIN = dict(epochs=3, batch_size=32, learning_rate=3e-3, seed=5)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@pytest.fixture(scope="module")
def rust_dir(parity_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("rust_models")
    subprocess.run([parity_bin, "train", str(out)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_rust_trained_model_gives_bit_identical_logits_in_python(rust_dir, name):
    model = sympair.load(str(rust_dir / f"{name}.json"))
    x, y = np.load(rust_dir / "x.npy"), np.load(rust_dir / "y.npy")
    expected = np.load(rust_dir / f"{name}.logits.npy")[:, 0]
    got = model.predict_logits(x, y)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(bits(got), bits(expected))


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_training_from_python_writes_the_same_file_as_rust(rust_dir, name):
    tx, ty = np.load(rust_dir / "train_x.npy"), np.load(rust_dir / "train_y.npy")
    labels = np.load(rust_dir / "train_labels.npy")[:, 0]
    model = sympair.Model(tx.shape[1], seed=3, **FAMILIES[name])
    model.fit(sympair.PairDataset(tx, ty, labels), **RUST_TRAIN)
    assert model.to_json_bytes() == (rust_dir / f"{name}.json").read_bytes()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_python_trained_model_gives_bit_identical_logits_in_rust(parity_bin, tmp_path, name):
    X, y = cluster_pairs(n=300, d=10, seed=4)
    model = sympair.Model(10, seed=1, **FAMILIES[name])
    model.fit(sympair.PairDataset(X[:, 0], X[:, 1], y), epochs=2, seed=2)
    Xt, _ = cluster_pairs(n=257, d=10, seed=5)
    path = tmp_path / "model.json"
    model.save(str(path))
    np.save(tmp_path / "x.npy", Xt[:, 0])
    np.save(tmp_path / "y.npy", Xt[:, 1])
    out = tmp_path / "out.npy"
    subprocess.run(
        [parity_bin, "predict", str(path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), str(out)],
        check=True,
        capture_output=True,
    )
    rust = np.load(out)[:, 0]
    np.testing.assert_array_equal(bits(model.predict_logits(Xt[:, 0], Xt[:, 1])), bits(rust))


def test_estimator_save_loads_in_rust_with_identical_logits(parity_bin, tmp_path):
    X, y = cluster_pairs(n=300, d=6, seed=7)
    clf = sympair.PairClassifier(combiner="concat_swap_average", epochs=2).fit(X, y)
    clf.save(str(tmp_path / "m.json"))
    np.save(tmp_path / "x.npy", np.ascontiguousarray(X[:, 0]))
    np.save(tmp_path / "y.npy", np.ascontiguousarray(X[:, 1]))
    subprocess.run(
        [parity_bin, "predict", str(tmp_path / "m.json"), str(tmp_path / "x.npy"),
         str(tmp_path / "y.npy"), str(tmp_path / "o.npy")],
        check=True,
        capture_output=True,
    )
    np.testing.assert_array_equal(bits(clf.decision_function(X)), bits(np.load(tmp_path / "o.npy")[:, 0]))
