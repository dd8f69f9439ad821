"""Head and encoder dropout exposed in Python: seeded, training only, rejected when out
of range; prediction stays exactly symmetric."""

import numpy as np
import pytest

import sympair
from conftest import cluster_pairs


def test_head_and_encoder_dropout_are_seeded_and_leave_prediction_symmetric():
    X, y = cluster_pairs(n=400, d=8, seed=5)
    kw = dict(
        combiner="product",
        encoder=(16, 6),
        epochs=3,
        head_dropout=0.3,
        encoder_dropout=0.2,
        random_state=7,
    )
    a = sympair.PairClassifier(**kw).fit(X, y)
    b = sympair.PairClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(a.model_.parameters(), b.model_.parameters())
    plain = sympair.PairClassifier(**{**kw, "head_dropout": 0.0, "encoder_dropout": 0.0}).fit(X, y)
    assert not np.array_equal(a.model_.parameters(), plain.model_.parameters())
    swapped = X[:, ::-1, :]
    np.testing.assert_array_equal(a.decision_function(X), a.decision_function(swapped))
    np.testing.assert_array_equal(a.decision_function(X), a.decision_function(X))


@pytest.mark.parametrize("name", ["head_dropout", "encoder_dropout"])
@pytest.mark.parametrize("bad", [-0.1, 1.0, float("nan")])
def test_dropout_out_of_range_is_rejected_naming_the_field(name, bad):
    X, y = cluster_pairs(n=100, d=4, seed=6)
    with pytest.raises(ValueError, match=name):
        sympair.PairClassifier(epochs=1, **{name: bad}).fit(X, y)
