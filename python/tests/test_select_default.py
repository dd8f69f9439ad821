"""sympair.select with the crate's default search space, regularisers in the grid, and
seed ensembles averaged in logit space."""

import pickle

import numpy as np
import pytest

import sympair
from conftest import cluster_items

# A tiny grid that trains in milliseconds (symmetric combiner).
TINY = dict(
    combiners=["product"], hidden=[(8,)], learning_rates=[1e-2], batch_size=64, max_epochs=3
)

TABLE_KEYS = {
    "label", "mean_auc", "std_auc", "epochs", "fold_aucs", "mean_train_loss", "seconds",
    "head_dropout", "encoder_dropout", "input_dropout", "input_noise", "weight_decay", "chosen",
}


@pytest.fixture(scope="module")
def data():
    return cluster_items(n_items=40, n_pairs=300)


@pytest.fixture(scope="module")
def ens(data):
    items, ids, y = data
    e, table = sympair.select(items, ids, y, folds=2, ensemble=3, **TINY)
    return e


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def test_select_without_grid_arguments_tries_the_crate_default_space(data):
    items, ids, y = data
    default = sympair.default_search_space()
    assert len(default) == 4 and default[0] == "concat_swap_average h=[64] lr=1e-3"
    model, table = sympair.select(items, ids, y, folds=2)
    assert isinstance(model, sympair.Model)
    assert [row["label"] for row in table] == default
    assert all(set(row) == TABLE_KEYS for row in table)
    assert sum(row["chosen"] for row in table) == 1
    # The regularisers of SearchSpace::default() as documented in the crate.
    regs = [
        (row["head_dropout"], row["encoder_dropout"], row["input_dropout"], row["input_noise"],
         row["weight_decay"])
        for row in table
    ]
    expected = [(0, 0, 0, 0, 0), (0.5, 0, 0.2, 0, 0), (0.3, 0.5, 0.2, 0, 0), (0.3, 0.5, 0.2, 0, 0)]
    np.testing.assert_allclose(regs, expected, rtol=1e-6)
    # Encoder candidates run at most 12 epochs, concat + swap-average ones 20.
    assert all(1 <= row["epochs"] <= (20 if i < 2 else 12) for i, row in enumerate(table))


def test_any_grid_argument_builds_the_grid_with_its_regularisers(data):
    items, ids, y = data
    model, table = sympair.select(
        items, ids, y, folds=2, **TINY,
        encoders=[None, (8, 4)],
        head_dropouts=[0.0, 0.25],
        encoder_dropouts=[0.0, 0.5],
        input_dropouts=[0.1],
        input_noises=[0.05],
        weight_decays=[1e-4],
    )
    assert isinstance(model, sympair.Model)
    # Encoder-less candidates take encoder dropout 0 only: (1 + 2) encoders x 2 head dropouts.
    assert len(table) == 6
    assert len({row["label"] for row in table}) == 6
    got = sorted(
        (row["label"].startswith("encoder"), row["head_dropout"], row["encoder_dropout"])
        for row in table
    )
    want = sorted(
        [(False, 0.0, 0.0), (False, 0.25, 0.0)]
        + [(True, hd, ed) for hd in (0.0, 0.25) for ed in (0.0, 0.5)]
    )
    np.testing.assert_allclose(np.array(got, dtype=float), np.array(want, dtype=float))
    for row in table:
        assert row["input_dropout"] == pytest.approx(0.1)
        assert row["input_noise"] == pytest.approx(0.05)
        assert row["weight_decay"] == pytest.approx(1e-4)
    # Passing only max_epochs still builds a grid (one candidate), not the default space.
    _, one = sympair.select(items, ids, y, folds=2, max_epochs=2)
    assert [row["label"] for row in one] == ["concat_swap_average h=[64] lr=1e-3 wd=0e0"]


def test_ensemble_logits_are_the_mean_of_its_members_and_symmetric_bitwise(data, ens):
    items, ids, y = data
    assert isinstance(ens, sympair.Ensemble)
    assert len(ens) == 3 and ens.is_symmetric and ens.input_dim == items.shape[1]
    members = ens.members
    assert all(isinstance(m, sympair.Model) for m in members)
    # The first member is the single refit; the others are reseeded refits.
    single, _ = sympair.select(items, ids, y, folds=2, **TINY)
    assert members[0] == single
    assert members[1] != members[0] and members[2] != members[1]

    x, z = items[ids[:, 0]], items[ids[:, 1]]
    logits = ens.predict_logits(x, z)
    mean = np.mean([m.predict_logits(x, z) for m in members], axis=0)
    np.testing.assert_allclose(logits, mean, rtol=0, atol=1e-6)
    assert np.array_equal(bits(logits), bits(ens.predict_logits(z, x)))
    np.testing.assert_allclose(ens.predict_proba(x, z), 1 / (1 + np.exp(-logits)), atol=1e-6)

    # Item-indexed pairs: "never" is the dense path bit for bit; every mode is symmetric.
    assert np.array_equal(bits(ens.predict_logits_ids(items, ids, "never")), bits(logits))
    for mode in ("auto", "always", "never"):
        a = ens.predict_logits_ids(items, ids, mode)
        np.testing.assert_allclose(a, logits, atol=1e-5)
        assert np.array_equal(bits(a), bits(ens.predict_logits_ids(items, ids[:, ::-1], mode)))
    np.testing.assert_allclose(
        ens.predict_proba_ids(items, ids), 1 / (1 + np.exp(-logits)), atol=1e-5
    )
    assert np.array_equal(bits(ens.logits_for((x, z, y.astype(np.float32)))), bits(logits))


def test_ensemble_from_members_equals_the_selected_one(ens, data):
    items, ids, _ = data
    again = sympair.Ensemble(ens.members)
    assert again == ens
    x, z = items[ids[:, 0]], items[ids[:, 1]]
    assert np.array_equal(bits(again.predict_logits(x, z)), bits(ens.predict_logits(x, z)))


def test_ensemble_save_load_and_pickle_round_trips_are_bit_identical(ens, data, tmp_path):
    items, ids, _ = data
    x, z = items[ids[:, 0]], items[ids[:, 1]]
    before = bits(ens.predict_logits(x, z))
    path = tmp_path / "ens.json"
    ens.save(path)
    for back in (
        sympair.Ensemble.load(path),
        sympair.Ensemble.load(str(path)),
        pickle.loads(pickle.dumps(ens)),
        sympair.Ensemble.from_json_bytes(ens.to_json_bytes()),
    ):
        assert isinstance(back, sympair.Ensemble) and back == ens
        assert back.to_json_bytes() == ens.to_json_bytes()
        assert np.array_equal(bits(back.predict_logits(x, z)), before)
    # The file is the crate's ensemble format, not a model.
    with pytest.raises(ValueError, match="ensemble"):
        sympair.Ensemble.from_json_bytes(ens.members[0].to_json_bytes())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(ensemble=0), "ensemble"),
        (dict(TINY, head_dropouts=[-0.1]), "head_dropout"),
        (dict(TINY, input_dropouts=[1.0]), "input_dropout"),
        (dict(TINY, encoder_dropouts=[-0.5]), "encoder_dropout"),
        (dict(TINY, input_noises=[-1.0]), "input_noise"),
        (dict(TINY, head_dropouts=[]), "no candidate"),
        (dict(TINY, encoders=[()]), "encoder"),
    ],
)
def test_select_rejects_bad_settings_with_value_error(data, kwargs, match):
    items, ids, y = data
    with pytest.raises(ValueError, match=match):
        sympair.select(items, ids, y, folds=2, **kwargs)


def test_ensemble_rejects_bad_inputs_with_typed_errors(ens, data, tmp_path):
    items, ids, _ = data
    with pytest.raises(ValueError, match="no member"):
        sympair.Ensemble([])
    with pytest.raises(ValueError, match="width"):
        sympair.Ensemble([sympair.Model(4), sympair.Model(5)])
    with pytest.raises(ValueError):
        sympair.Ensemble.from_json_bytes(b"not json")
    with pytest.raises(FileNotFoundError):
        sympair.Ensemble.load(tmp_path / "missing.json")
    with pytest.raises(ValueError):
        ens.predict_logits(items[:3, :5], items[:3, :5])
    with pytest.raises(ValueError, match="negative item id"):
        ens.predict_logits_ids(items, np.array([[0, -1]]))
    with pytest.raises(ValueError, match="precompute"):
        ens.predict_logits_ids(items, ids, "sometimes")
    with pytest.raises(TypeError):
        ens.predict_logits(np.array([["a"]]), np.array([["b"]]))
