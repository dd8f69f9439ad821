"""Hypothesis properties: bitwise symmetry from Python, and hostile input never crashes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sympair

SYMMETRIC = [
    dict(combiner=c) for c in sympair.COMBINERS if c != "concat"
] + [dict(combiner=s, hidden=[]) for s in sympair.SIMILARITIES] + [
    dict(combiner=("sum", "product", "abs_diff", "max")),
    dict(combiner="abs_diff", encoder=[8, 4]),
    dict(combiner="squared_diff", encoder=[4], head="distance"),
]
MODELS = {i: sympair.Model(5, seed=i, **p) for i, p in enumerate(SYMMETRIC)}

finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)
# Special values that stress symmetry: signed zeros, ties, tiny and large numbers.
special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-38, -1e-38, 3e4, -3e4])
value = st.one_of(finite, special)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@settings(max_examples=60, deadline=None)
@given(
    which=st.sampled_from(sorted(MODELS)),
    pairs=hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.just(2), st.just(5)), elements=value),
)
def test_symmetric_families_are_bitwise_symmetric_from_python(which, pairs):
    model = MODELS[which]
    a = model.predict_logits(pairs[:, 0], pairs[:, 1])
    b = model.predict_logits(pairs[:, 1], pairs[:, 0])
    np.testing.assert_array_equal(bits(a), bits(b))
    # A pair's logit does not depend on its row in the batch.
    c = model.predict_logits(pairs[::-1, 0], pairs[::-1, 1])[::-1]
    np.testing.assert_array_equal(bits(a), bits(c))


ANY_DTYPE = st.sampled_from(
    [np.float32, np.float64, np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex64, np.str_, object]
)


def hostile_arrays():
    shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)
    floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
    return st.one_of(
        hnp.arrays(np.float64, shapes, elements=floats),
        hnp.arrays(np.float32, shapes, elements=st.floats(allow_nan=True, allow_infinity=True, width=32)),
        hnp.arrays(np.int64, shapes, elements=st.integers(-(2**62), 2**62)),
        st.builds(lambda s, d: np.zeros(s, dtype=d), shapes, ANY_DTYPE),
        st.lists(st.integers(-5, 5), max_size=5),
        st.none(),
        st.text(max_size=3),
    )


ALLOWED = (ValueError, TypeError, OverflowError, MemoryError)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(a=hostile_arrays(), b=hostile_arrays(), c=hostile_arrays(), k=st.integers(-3, 10**6))
def test_hostile_inputs_raise_and_never_crash(a, b, c, k):
    model = MODELS[0]
    calls = [
        lambda: model.predict_logits(a, b),
        lambda: model.predict_logits_stacked(a),
        lambda: model.predict_logits_ids(a, b),
        lambda: model.score_all_pairs(a),
        lambda: model.top_k(a, b, max(k, 0)),
        lambda: sympair.PairDataset(a, b, c),
        lambda: sympair.ItemPairs(a, b, c),
        lambda: sympair.Model.from_json_bytes(bytes(np.asarray(a, dtype=object).tobytes()) if a is not None else b""),
        lambda: sympair.PairClassifier(epochs=1).fit(a, b),
        lambda: sympair.PairClassifier(epochs=1).fit(b, c, items=a),
    ]
    for call in calls:
        try:
            call()
        except ALLOWED:
            pass


@settings(max_examples=60, deadline=None)
@given(
    n_items=st.integers(1, 6),
    ids=hnp.arrays(np.int64, st.tuples(st.integers(0, 8), st.just(2)), elements=st.integers(-3, 8)),
)
def test_ids_out_of_range_or_negative_raise_value_error(n_items, ids):
    items = np.ones((n_items, 5), dtype=np.float32)
    bad = (ids < 0) | (ids >= n_items)
    try:
        out = MODELS[0].predict_logits_ids(items, ids)
    except ValueError as e:
        assert bad.any() or len(ids) == 0, str(e)
    else:
        assert not bad.any() and out.shape == (len(ids),)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(hidden=[2**40]),
        dict(hidden=[2**20, 2**20]),
        dict(encoder=[2**62, 4]),
        dict(hidden=[0]),
        dict(encoder=[]),
        dict(head="nope"),
        dict(activation="nope"),
        dict(combiner="nope"),
        dict(combiner=("concat_swap_average",)),
        dict(combiner=("sum", 3)),
        dict(combiner="concat", head="distance"),
    ],
)
def test_absurd_or_invalid_model_shapes_raise_instead_of_aborting(kwargs):
    with pytest.raises((ValueError, TypeError)):
        sympair.Model(384, **kwargs)


def test_absurd_input_dim_raises():
    with pytest.raises((ValueError, OverflowError)):
        sympair.Model(2**62)
