"""Train the digits MLP on 2 local Ray workers with `tracead.distributed`.

    python examples/data_parallel.py           # 2 workers, each step compiled
    python examples/data_parallel.py --eager   # the workers run it eagerly

The model, optimizer and batches of examples/mlp_digits.py. Every batch of 64
is split into two shards of 32; each worker computes its shard's gradient,
the two are averaged (weighted by shard size) and both replicas apply the
same Adam update. The script then trains one process on the same batches
and prints both test accuracies and how far the parameters ended apart
(float rounding only). On a multi-node cluster, start Ray with
`ray start --head` / `ray start --address=...` and pass `address="auto"`.
"""
import sys

import numpy as np
from sklearn.datasets import load_digits

from tracead import nn, no_grad, optim
from tracead.distributed import DataParallel

# Data: 1797 8x8 images, standardised with the training split's statistics.
X, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(X))
train, test = order[450:], order[:450]
mean, std = X[train].mean(0), X[train].std(0) + 1e-8
X = ((X - mean) / std).astype(np.float32)
X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
BATCH, EPOCHS = 64, 8


def batches(epoch):
    """The epoch's shuffled batches (the same for both runs); the ragged last one dropped."""
    perm = np.random.default_rng(epoch).permutation(len(X_train))
    return [(X_train[perm[i:i + BATCH]], y_train[perm[i:i + BATCH]])
            for i in range(0, len(perm) - BATCH + 1, BATCH)]


def make_model():
    return nn.MLP([64, 128, 64, 10], activation="relu", seed=0)


def make_optimizer(model):
    return optim.Adam(model.parameters(), lr=3e-3)


def loss_fn(model, xb, yb):
    return nn.cross_entropy(model(xb), yb)  # a mean over the rows: shards are weighted by size


def accuracy(model):
    with no_grad():
        return np.mean(np.asarray(model(X_test)).argmax(axis=1) == y_test)


if __name__ == "__main__":
    with DataParallel(loss_fn, make_model, make_optimizer, num_workers=2,
                      compile="--eager" not in sys.argv) as dp:
        losses = dp.fit(batches, epochs=EPOCHS)
        parallel = dp.model
        reports = dp.worker_reports()
    print(f"2 workers: {dp.steps} steps, final loss {losses[-1]:.4f}, "
          f"test accuracy {accuracy(parallel):.1%}")
    for r in reports:
        print(f"  worker {r['rank']}: compiled in {r['compile_seconds']:.2f} s, "
              f"{r['kernels_from_cache']} kernels from the cache, {r['kernels_built']} built")

    model = make_model()  # the same training in one process, eagerly
    opt = make_optimizer(model)
    for epoch in range(EPOCHS):
        for xb, yb in batches(epoch):
            opt.zero_grad()
            loss = loss_fn(model, xb, yb)
            loss.backward()
            opt.step()
    print(f"1 process: final loss {loss.item():.4f}, test accuracy {accuracy(model):.1%}")
    gap = max(np.abs(a - b).max() for a, b in zip(parallel.state_dict().values(),
                                                 model.state_dict().values()))
    print(f"largest parameter difference {gap:.2e}")
