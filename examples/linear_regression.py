"""Linear regression y = x @ w + b on (100, 1) data, by gradient descent.

    python examples/linear_regression.py
prints the fitted slope and intercept (true values 3.0 and -2.0) and the loss.
"""
import numpy as np

import tracead as ta

TRUE_W, TRUE_B = 3.0, -2.0


def loss(w, b, x, y):
    return ((x @ w + b - y) ** 2).mean()


def main(steps: int = 300, lr: float = 0.3) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (100, 1))
    y = TRUE_W * x + TRUE_B + 0.01 * rng.standard_normal((100, 1))
    w = ta.tensor(np.zeros((1, 1)), requires_grad=True)
    b = ta.tensor(np.zeros(1), requires_grad=True)
    for _ in range(steps):
        value = loss(w, b, x, y)
        value.backward()
        with ta.no_grad():  # the update is not part of the model
            w = ta.tensor(w - lr * w.grad, requires_grad=True)
            b = ta.tensor(b - lr * b.grad, requires_grad=True)
    print(f"w {w.item():.4f} b {b.item():.4f} loss {value.item():.6f}")


if __name__ == "__main__":
    main()
