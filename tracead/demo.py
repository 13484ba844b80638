"""`python -m tracead demo`: train an MLP on scikit-learn's digits, eager vs compiled.

The data is the 8x8 digits set bundled with scikit-learn (1797 images, no
download). One training loop serves both modes: it takes a `step_fn(model,
xb, yb) -> loss` that runs forward, backward and the optimizer update. In
"eager" mode that is the plain Python function; in "compiled" mode it is the
same function wrapped by `tracead.compile`, so forward, backward and the
optimizer step become one traced, optimised graph. Both runs start from the
same initial weights and see the same batches, so their accuracies should
agree closely.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

import tracead as ta
from tracead import nn, optim

MODES = ("eager", "compiled")
SIZES = (64, 128, 64, 10)


@dataclass
class Result:
    mode: str
    accuracy: float | None = None  # test accuracy in [0, 1]
    ms_per_step: float | None = None  # mean over the steps after the first
    first_step_seconds: float | None = None  # includes tracing and compiling when compiled
    compile_seconds: float | None = None  # first step minus a steady step (compiled only)
    steps: int = 0
    final_loss: float | None = None
    error: str | None = None  # why the run is unavailable, if it is
    step_fn: object = None  # the step that ran (the CompiledFunction when compiled)
    model: object = None
    batch: tuple | None = None  # one (xb, yb) batch, for explain()

    @property
    def ok(self) -> bool:
        return self.error is None


def load_data(seed: int = 0, test_fraction: float = 0.25, dtype=np.float32):
    """Standardised digits split into (X_train, y_train, X_test, y_test)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    # Statistics from the training split only, so the test set stays unseen.
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    std[std == 0] = 1.0  # a few border pixels are always 0
    X = ((X - mean) / std).astype(dtype)
    y = y.astype(np.int64)
    return X[train], y[train], X[test], y[test]


def make_optimizer(model: nn.Module, name: str = "adam", lr: float | None = None):
    if name == "adam":
        return optim.Adam(model.parameters(), lr=lr if lr is not None else 3e-3)
    if name == "sgd":
        return optim.SGD(model.parameters(), lr=lr if lr is not None else 0.05, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}; choose 'adam' or 'sgd'")


def make_step(opt):
    """The training step: forward + cross-entropy + backward + update."""

    def train_step(model, xb, yb):
        opt.zero_grad()
        loss = nn.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    return train_step


def batches(n: int, batch_size: int, epochs: int, rng: np.random.Generator):
    """Shuffled index batches; the last partial batch is dropped so every
    step has the same shape (one compiled variant serves them all)."""
    per_epoch = n // batch_size
    for _ in range(epochs):
        order = rng.permutation(n)
        for b in range(per_epoch):
            yield order[b * batch_size:(b + 1) * batch_size]


def train(step_fn, model, X, y, *, epochs: int, batch_size: int, seed: int = 0,
          max_steps: int | None = None, desc: str = "train", progress: bool = True):
    """Run `step_fn(model, xb, yb)` over minibatches; returns (per-step seconds, last loss)."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed + 1)
    total = (len(X) // batch_size) * epochs
    if max_steps is not None:
        total = min(total, max_steps)
    times: list[float] = []
    loss_value = float("nan")
    with tqdm(total=total, desc=desc, unit="step", disable=not progress, leave=False) as bar:
        for idx in batches(len(X), batch_size, epochs, rng):
            if len(times) >= total:
                break
            xb, yb = X[idx], y[idx]
            start = time.perf_counter()
            loss = step_fn(model, xb, yb)
            times.append(time.perf_counter() - start)
            if len(times) % 10 == 0 or len(times) == total:
                loss_value = float(loss)
                bar.set_postfix(loss=f"{loss_value:.3f}")
            bar.update(1)
    return times, loss_value


def accuracy(model, X, y) -> float:
    with ta.no_grad():
        logits = np.asarray(model(X))
    return float(np.mean(logits.argmax(axis=1) == y))


def run(mode: str = "eager", *, epochs: int = 8, batch_size: int = 64, max_steps: int | None = None,
        optimizer: str = "adam", lr: float | None = None, seed: int = 0,
        progress: bool = True, data=None) -> Result:
    """Train from scratch in `mode` ("eager" or "compiled") and measure it."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {MODES}")
    X_train, y_train, X_test, y_test = data if data is not None else load_data(seed)
    model = nn.MLP(SIZES, activation="relu", seed=seed)
    opt = make_optimizer(model, optimizer, lr)
    step = make_step(opt)
    result = Result(mode, model=model, batch=(X_train[:batch_size], y_train[:batch_size]))
    if mode == "compiled":
        if not hasattr(ta, "compile"):
            result.error = "tracead.compile is not available in this build"
            return result
        try:
            step = ta.compile(step)
        except Exception as exc:  # report, don't crash the eager half of the demo
            result.error = f"tracead.compile failed: {type(exc).__name__}: {exc}"
            return result
    result.step_fn = step
    try:
        times, loss = train(step, model, X_train, y_train, epochs=epochs, batch_size=batch_size,
                            seed=seed, max_steps=max_steps, desc=mode, progress=progress)
    except Exception as exc:
        if mode == "eager":
            raise
        result.error = f"compiled training failed: {type(exc).__name__}: {exc}"
        return result
    result.steps = len(times)
    result.first_step_seconds = times[0] if times else None
    steady = times[1:] or times
    result.ms_per_step = 1e3 * float(np.mean(steady)) if steady else None
    result.final_loss = loss
    if mode == "compiled" and times:
        # What compiling costs the user: the first call's extra time.
        result.compile_seconds = max(0.0, times[0] - float(np.mean(steady)))
    result.accuracy = accuracy(model, X_test, y_test)
    return result


def summary_table(results: list[Result]) -> str:
    eager = next((r for r in results if r.mode == "eager" and r.ok), None)
    rows = [f"{'mode':<10} {'accuracy':>9} {'ms/step':>9} {'speedup':>8} {'compile':>9}"]
    for r in results:
        if not r.ok:
            rows.append(f"{r.mode:<10} {'-':>9} {'-':>9} {'-':>8} {'-':>9}   unavailable")
            continue
        speedup = eager.ms_per_step / r.ms_per_step if eager and r.ms_per_step else float("nan")
        compile_s = "-" if r.compile_seconds is None else f"{r.compile_seconds:.3f}s"
        rows.append(f"{r.mode:<10} {100 * r.accuracy:>8.1f}% {r.ms_per_step:>9.3f} "
                    f"{speedup:>7.2f}x {compile_s:>9}")
    return "\n".join(rows)


PICTURE = "tracead_demo_kernels.png"
HTML_REPORT = "tracead_demo_explain.html"


def explain_lines(result: Result) -> str | None:
    """The explain() summary of the compiled step, or None if unavailable.

    explain() runs the step once more (one extra optimizer update on the
    already-evaluated model), as torch._dynamo.explain does. It also writes
    the full report as HTML and, with Graphviz or matplotlib, a picture.
    """
    if not hasattr(ta, "explain") or result.step_fn is None:
        return None
    report = ta.explain(result.step_fn, result.model, *result.batch)
    text = str(report)
    written = [report.to_html(HTML_REPORT)]
    try:
        written.append(report.to_png(PICTURE))
    except ImportError:
        pass  # no Graphviz and no matplotlib: the HTML report has the pictures
    return text + "\nwritten: " + ", ".join(written)


def main(epochs: int = 8, batch_size: int = 64, optimizer: str = "adam", lr: float | None = None,
         seed: int = 0, modes=MODES, progress: bool = True) -> list[Result]:
    data = load_data(seed)
    n_train, n_test = len(data[0]), len(data[2])
    print(f"digits: {n_train} train / {n_test} test, MLP {'-'.join(map(str, SIZES))} ReLU, "
          f"{optimizer}, batch {batch_size}, {epochs} epochs")
    results = []
    for mode in modes:
        r = run(mode, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, seed=seed,
                progress=progress, data=data)
        if r.ok:
            print(f"{mode:<9} test accuracy {100 * r.accuracy:.1f}%  {r.ms_per_step:.3f} ms/step "
                  f"over {r.steps} steps  (first step {r.first_step_seconds:.3f} s, final loss "
                  f"{r.final_loss:.4f})")
        else:
            print(f"{mode:<9} compiled run unavailable: {r.error}")
        results.append(r)
    print()
    print(summary_table(results))
    compiled = next((r for r in results if r.mode == "compiled" and r.ok), None)
    if compiled is not None:
        try:
            lines = explain_lines(compiled)
        except Exception as exc:
            lines = f"explain unavailable: {type(exc).__name__}: {exc}"
        if lines:
            print()
            print(lines)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=8, help="training epochs (default 8)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                        help="adam (lr 3e-3) or sgd with momentum 0.9 (lr 0.05)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate override")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=("both",) + MODES, default="both",
                        help="run eager, compiled or both (default)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def main_from_args(args: argparse.Namespace) -> int:
    modes = MODES if args.mode == "both" else (args.mode,)
    main(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
         seed=args.seed, modes=modes, progress=not args.no_progress)
    return 0
