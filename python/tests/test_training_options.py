"""Training options of the crate exposed in Python: interruption within an epoch,
regularisers, early-stopping monitors, warnings of runs that do not learn."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import sympair
from conftest import cluster_pairs


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_ctrl_c_interrupt_stops_within_one_long_epoch():
    # One epoch of 400k pairs with a wide head takes far longer than the 0.3 s before
    # the signal: stopping at the end of the epoch would blow the time limit.
    X, y = cluster_pairs(n=400_000, d=32, seed=3)
    clf = sympair.PairClassifier(epochs=1, hidden=(256, 256), batch_size=32)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    elapsed = time.perf_counter() - start
    timer.cancel()
    assert elapsed < 2.0, f"fit took {elapsed:.2f}s to stop after Ctrl-C"
    p = clf.predict_proba(X[:10])
    assert p.shape == (10, 2) and np.all(np.isfinite(p))


def test_callback_sees_train_and_valid_metrics():
    X, y = cluster_pairs(n=300, d=4, seed=4)
    seen = []
    sympair.PairClassifier(epochs=3).fit(X, y, eval_set=(X, y), callback=seen.append)
    assert len(seen) == 3
    for s in seen:
        assert 0.0 <= s["train_auc"] <= 1.0
        assert 0.0 <= s["valid_ap"] <= 1.0
        assert s["partial"] is False


def test_input_dropout_and_noise_are_seeded_and_leave_prediction_symmetric():
    X, y = cluster_pairs(n=400, d=8, seed=5)
    kw = dict(epochs=3, input_dropout=0.2, input_noise=0.1, grad_clip=1.0, random_state=7)
    a = sympair.PairClassifier(**kw).fit(X, y)
    b = sympair.PairClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(a.model_.parameters(), b.model_.parameters())
    plain = sympair.PairClassifier(epochs=3, random_state=7).fit(X, y)
    assert not np.array_equal(a.model_.parameters(), plain.model_.parameters())
    swapped = X[:, ::-1, :]
    np.testing.assert_array_equal(a.decision_function(X), a.decision_function(swapped))


def test_a_run_that_cannot_learn_is_flagged():
    X, y = cluster_pairs(n=300, d=4, seed=6)
    clf = sympair.PairClassifier(epochs=4, learning_rate=1e6).fit(X, y)
    assert clf.history_["warnings"], clf.history_
    ok = sympair.PairClassifier(epochs=4).fit(X, y)
    assert ok.history_["warnings"] == []


def test_unknown_monitor_is_a_value_error():
    X, y = cluster_pairs(n=100, d=4, seed=7)
    with pytest.raises(ValueError, match="monitor"):
        sympair.PairClassifier(epochs=1, monitor="accuracy").fit(X, y)
