"""Speed from Python against the same work in Rust (and a PyTorch head, if installed).

Workload: random items (n_items x d float32), 200,000 item-indexed pairs, labels
(i + j) % 2, AbsDiff combiner, head of 64, batch 256, Adam. For each d in (384, 768) the
contenders run alternately, REPEATS times each; the table shows the median pairs per
second. Rust runs `examples/python_parity.rs bench` (built with cargo in release).

Run from the repository root (after `pip install ./python`; the machine should be idle).
The full measurement (200,000 pairs, 20,000 items, d = 384 and 768, 3 alternated runs):

    python python/examples/bench.py

A quick end-to-end check of the script (20,000 pairs, 2,000 items, one run; the figures
mean little):

    python python/examples/bench.py --quick
"""

import argparse
import json
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

import sympair

# torch's OpenMP workers spin-wait between calls by default and would steal the cores
# from the contender that runs next; let them sleep instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[2]


def workload(d, n_items, n_pairs, seed=0):
    rng = np.random.default_rng(seed)
    items = (rng.random((n_items, d), dtype=np.float32) - 0.5).astype(np.float32)
    ids = rng.integers(0, n_items, size=(n_pairs, 2)).astype(np.int64)
    labels = (ids.sum(axis=1) % 2).astype(np.float32)
    return items, ids, labels


def python_run(items, ids, labels, epochs):
    data = sympair.ItemPairs(items, ids, labels)
    model = sympair.Model(items.shape[1], "abs_diff")
    model.predict_logits_ids(items, ids[:1000])  # warm-up, as the Rust side does
    t = time.perf_counter()
    model.predict_logits_ids(items, ids)
    predict = len(ids) / (time.perf_counter() - t)
    t = time.perf_counter()
    # The PyTorch recipe has no input noise: turn sympair's default noise off to match it.
    model.fit(data, epochs=epochs, batch_size=256, input_noise=0.0)
    train = len(data) * epochs / (time.perf_counter() - t)
    return predict, train


def two_threads(items, ids, batch=512):
    """Pairs/s of one Python thread, then of two Python threads at once, each predicting
    batches of 512 pairs (small enough that the crate scores each batch on one thread, so
    any speed-up comes from the two Python threads running in parallel)."""
    model = sympair.Model(items.shape[1], "abs_diff")
    x, y = items[ids[:, 0]], items[ids[:, 1]]
    starts = range(0, len(ids) - batch + 1, batch)

    def work():
        for s in starts:
            model.predict_logits(x[s:s + batch], y[s:s + batch])

    t = time.perf_counter()
    work()
    one = len(starts) * batch / (time.perf_counter() - t)
    threads = [threading.Thread(target=work) for _ in range(2)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    two = 2 * len(starts) * batch / (time.perf_counter() - t)
    return one, two


def rust_run(binary, d, n_items, n_pairs, epochs):
    out = subprocess.run(
        [binary, "bench", str(d), str(n_items), str(n_pairs), str(epochs)],
        check=True, capture_output=True, text=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["predict_pairs_per_s"], r["train_pairs_per_s"]


def torch_run(items, ids, labels, epochs):
    import torch

    torch.set_num_threads(2)
    d = items.shape[1]
    head = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    it = torch.from_numpy(items)
    i, j = torch.from_numpy(ids[:, 0]), torch.from_numpy(ids[:, 1])
    t_lab = torch.from_numpy(labels)
    with torch.no_grad():
        t = time.perf_counter()
        for s in range(0, len(ids), 4096):
            head((it[i[s:s + 4096]] - it[j[s:s + 4096]]).abs())
        predict = len(ids) / (time.perf_counter() - t)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(ids))
        for s in range(0, len(ids), 256):
            b = perm[s:s + 256]
            z = head((it[i[b]] - it[j[b]]).abs())[:, 0]
            loss = loss_fn(z, t_lab[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    train = len(ids) * epochs / (time.perf_counter() - t)
    return predict, train


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=200_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--dims", type=int, nargs="+", default=[384, 768])
    ap.add_argument("--quick", action="store_true",
                    help="small sizes (20,000 pairs, 2,000 items, one run): checks the script")
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.items, args.repeats = 20_000, 2_000, 1
    started = time.perf_counter()
    subprocess.run(["cargo", "build", "--release", "--example", "python_parity"], cwd=REPO, check=True)
    binary = str(REPO / "target" / "release" / "examples" / "python_parity")
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
        print("torch is not installed: the PyTorch column is left out")
    print(f"{args.pairs} item-indexed pairs, {args.items} items, abs_diff, head 64, batch 256, "
          f"Adam; median of {args.repeats} alternated runs")
    print(f"{'d':>4} {'contender':<10} {'predict pairs/s':>16} {'train pairs/s':>14}")
    for d in args.dims:
        items, ids, labels = workload(d, args.items, args.pairs)
        runs = {"rust": [], "python": []}
        if have_torch:
            runs["torch"] = []
        for _ in range(args.repeats):
            runs["rust"].append(rust_run(binary, d, args.items, args.pairs, args.epochs))
            runs["python"].append(python_run(items, ids, labels, args.epochs))
            if have_torch:
                runs["torch"].append(torch_run(items, ids, labels, args.epochs))
        for name, rs in runs.items():
            p = statistics.median(r[0] for r in rs)
            t = statistics.median(r[1] for r in rs)
            print(f"{d:>4} {name:<10} {p:>16.0f} {t:>14.0f}")
        py, rs = runs["python"], runs["rust"]
        print(f"{d:>4} python/rust: predict {statistics.median(r[0] for r in py) / statistics.median(r[0] for r in rs):.2f}, "
              f"train {statistics.median(r[1] for r in py) / statistics.median(r[1] for r in rs):.2f}")
        one, two = two_threads(items, ids)
        print(f"{d:>4} batches of 512 from Python: one thread {one:.0f} pairs/s, two threads at "
              f"once {two:.0f} pairs/s in all ({two / one:.2f}x)")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
