"""Shared fixtures: small synthetic pair tasks and the Rust parity binary."""

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def cluster_pairs(n=400, d=8, k=4, seed=0, noise=0.8, dtype=np.float32):
    """Pairs of points around ``k`` centres; similar (1) = same centre. Returns
    ``X (n, 2, d)``, ``y (n,)``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 2.0
    # Half the pairs share a centre, so both classes are well represented.
    a = rng.integers(0, k, size=n)
    b = np.where(rng.random(n) < 0.5, a, rng.integers(0, k, size=n))
    X = centres[np.stack([a, b], axis=1)] + noise * rng.normal(size=(n, 2, d))
    return X.astype(dtype), (a == b).astype(np.int64)


def cluster_items(n_items=120, n_pairs=500, d=8, k=4, seed=0):
    """An item matrix and labelled id pairs: ``items (n_items, d)``, ``ids (n, 2)``, ``y``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 2.0
    cls = rng.integers(0, k, size=n_items)
    items = (centres[cls] + 0.8 * rng.normal(size=(n_items, d))).astype(np.float32)
    ids = rng.integers(0, n_items, size=(n_pairs, 2)).astype(np.int64)
    # Unordered repeats with the same label are fine; keep each pair once for clarity.
    key = np.sort(ids, axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    ids = ids[np.sort(first)]
    y = (cls[ids[:, 0]] == cls[ids[:, 1]]).astype(np.int64)
    return items, ids, y


@pytest.fixture(scope="session")
def parity_bin():
    """Path of the Rust `python_parity` example, built once (release)."""
    env_bin = os.environ.get("SYMPAIR_PARITY_BIN")
    if env_bin:
        return env_bin
    cargo = shutil.which("cargo")
    if cargo is None:
        if os.environ.get("SYMPAIR_REQUIRE_PARITY") == "1":
            pytest.fail("cargo not found but SYMPAIR_REQUIRE_PARITY=1")
        pytest.skip("cargo not found: the Rust side of the parity tests cannot be built")
    subprocess.run(
        [cargo, "build", "--release", "--example", "python_parity"],
        cwd=REPO,
        check=True,
    )
    return str(REPO / "target" / "release" / "examples" / "python_parity")


@contextlib.contextmanager
def ctrl_c_every(period: float):
    """Sends Ctrl-C (SIGINT) to this process every ``period`` seconds while the block runs.
    The first one handled raises ``KeyboardInterrupt``; later ones are ignored (one signal
    can land outside the call under test on a loaded machine). Yields the list that gets
    the time the first one was handled."""
    fired = []

    def handler(signum, frame):
        if not fired:
            fired.append(time.perf_counter())
            raise KeyboardInterrupt

    stop = threading.Event()

    def ring():
        while not stop.wait(period):
            os.kill(os.getpid(), signal.SIGINT)

    old = signal.signal(signal.SIGINT, handler)
    ringer = threading.Thread(target=ring)
    try:
        ringer.start()
        yield fired
    finally:
        stop.set()
        ringer.join()
        signal.signal(signal.SIGINT, old)
