"""Debian package descriptions: which packages are in the same section?

2,142 package descriptions embedded with all-MiniLM-L6-v2 (384 dimensions); a pair is
similar when both packages are in the same Debian section (see data/packages/README.md).
Trains sympair models on the item-disjoint split (test pairs use only packages never seen
in training) and prints test ROC AUC next to a cosine-threshold baseline.

Run (from the repository root, after `pip install ./python`):

    python python/examples/packages.py
"""

import csv
import time
from pathlib import Path

import numpy as np

import sympair

DATA = Path(__file__).resolve().parent / "data" / "packages"


def load():
    items = np.load(DATA / "items.npy")  # float32 (2142, 384)
    with open(DATA / "pairs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    ids = np.array([[int(r["i"]), int(r["j"])] for r in rows], dtype=np.int64)
    labels = np.array([int(r["label"]) for r in rows], dtype=np.int64)
    test = np.array([r["split_items"] == "test" for r in rows])
    return items, ids, labels, test


def roc_auc(scores, labels):
    """ROC AUC with mid-ranks for ties (scikit-learn's definition)."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Mid-ranks: equal scores share the mean of their ranks.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mid = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(mid, counts)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def main():
    items, ids, y, test = load()
    tr, te = ~test, test
    print(f"{len(items)} items (d = {items.shape[1]}), {len(ids)} pairs; item-disjoint split: "
          f"{tr.sum()} train / {te.sum()} test pairs")

    # Cosine threshold: the baseline needs no training; the threshold (for accuracy) is
    # chosen on the training pairs.
    unit = items / np.linalg.norm(items, axis=1, keepdims=True)
    cos = np.einsum("nd,nd->n", unit[ids[:, 0]], unit[ids[:, 1]])
    cuts = np.quantile(cos[tr], np.linspace(0, 1, 401))
    best = max(cuts, key=lambda t: np.mean((cos[tr] >= t) == y[tr]))
    print(f"\n{'model':<34}{'test ROC AUC':>13}{'test acc':>10}{'train s':>9}")
    print(f"{'cosine threshold (t = %.4f)' % best:<34}{roc_auc(cos[te], y[te]):>13.4f}"
          f"{np.mean((cos[te] >= best) == y[te]):>10.4f}{0.0:>9.1f}")

    models = {
        "abs_diff": dict(combiner="abs_diff"),
        "stack[sum+product+abs_diff]": dict(combiner=("sum", "product", "abs_diff")),
        "concat_swap_average": dict(combiner="concat_swap_average"),
    }
    for name, params in models.items():
        clf = sympair.PairClassifier(epochs=30, batch_size=256, learning_rate=1e-3, **params)
        t = time.perf_counter()
        clf.fit(ids[tr], y[tr], items=items)
        secs = time.perf_counter() - t
        z = clf.decision_function(ids[te])
        print(f"{name:<34}{roc_auc(z, y[te]):>13.4f}{clf.score(ids[te], y[te]):>10.4f}{secs:>9.1f}")

    # The last model: evaluate with the crate's report, save it for Rust or Python.
    report = clf.evaluate(ids[te], y[te])
    print(f"\nconcat_swap_average on unseen packages: AP {report['average_precision']:.4f}, "
          f"max |logit(x,y) - logit(y,x)| = {report['asymmetry']['max']}")
    clf.save("packages_model.json")
    print("saved packages_model.json (load it with sympair.load or Rust's PairClassifier::load)")


if __name__ == "__main__":
    main()
