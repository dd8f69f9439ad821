"""Model.fit_metric and Model.calibrate_similarity: metric learning from Python."""

import numpy as np
import pytest

import sympair
from conftest import cluster_pairs


@pytest.mark.parametrize(
    "loss,combiner", [("contrastive", "neg_squared_l2"), ("triplet", "neg_squared_l2"), ("infonce", "cosine")]
)
def test_fit_metric_learns_a_symmetric_calibrated_model(loss, combiner):
    X, y = cluster_pairs(n=800, d=8, seed=3)
    Xv, yv = cluster_pairs(n=300, d=8, seed=4)
    train = sympair.PairDataset(X[:, 0], X[:, 1], y)
    valid = sympair.PairDataset(Xv[:, 0], Xv[:, 1], yv)
    model = sympair.Model(8, combiner=combiner, hidden=[], encoder=[16, 6], seed=1)
    hist = model.fit_metric(train, loss=loss, margin=2.0, temperature=0.1, epochs=8, batch_size=64)
    assert len(hist) == 8 and hist[-1] < hist[0]
    cal = model.calibrate_similarity(valid)
    assert cal["platt"]["a"] > 0
    lxy = model.predict_logits(Xv[:, 0], Xv[:, 1])
    lyx = model.predict_logits(Xv[:, 1], Xv[:, 0])
    assert np.array_equal(lxy.view(np.uint32), lyx.view(np.uint32))
    # The logit is the similarity; the stored Platt map gives the probability.
    a, b = cal["platt"]["a"], cal["platt"]["b"]
    p = 1 / (1 + np.exp(-(a * lxy.astype(np.float64) + b)))
    assert abs(p.mean() - yv.mean()) < 0.1


def test_fit_metric_bad_arguments_raise_value_error():
    X, y = cluster_pairs(n=50, d=8)
    train = sympair.PairDataset(X[:, 0], X[:, 1], y)
    model = sympair.Model(8, combiner="cosine", hidden=[], encoder=[4], seed=1)
    with pytest.raises(ValueError, match="unknown metric loss"):
        model.fit_metric(train, loss="hinge")
    with pytest.raises(ValueError, match="margin"):
        model.fit_metric(train, loss="triplet", margin=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit_metric(train, batch_size=1)
