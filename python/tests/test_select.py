"""sympair.select: item-grouped cross-validated selection from Python."""

import numpy as np
import pytest

import sympair
from conftest import cluster_items


def test_select_returns_the_best_candidate_refitted_and_its_table():
    items, ids, y = cluster_items(n_items=60, n_pairs=600)
    reports = []
    model, table = sympair.select(
        items,
        ids,
        y,
        combiners=["product", "sum"],
        hidden=[(8,)],
        learning_rates=[1e-2],
        batch_size=64,
        max_epochs=3,
        folds=3,
        callback=reports.append,
    )
    assert isinstance(model, sympair.Model)
    assert [r["stage"] for r in reports] == ["fold"] * 6 + ["refit"]
    assert len(table) == 2 and sum(row["chosen"] for row in table) == 1
    best = max(table, key=lambda row: row["mean_auc"])
    assert best["chosen"]
    assert 1 <= best["epochs"] <= 3 and len(best["fold_aucs"]) == 3
    assert np.isclose(np.mean(best["fold_aucs"]), best["mean_auc"])
    # Same call, same model: the selection is deterministic.
    again, _ = sympair.select(
        items, ids, y, combiners=["product", "sum"], hidden=[(8,)],
        learning_rates=[1e-2], batch_size=64, max_epochs=3, folds=3,
    )
    assert again == model


def test_select_rejects_a_bad_fold_count():
    items, ids, y = cluster_items(n_items=30, n_pairs=200)
    with pytest.raises(ValueError, match="folds"):
        sympair.select(items, ids, y, folds=1, max_epochs=1)
