"""micrograd's worked example, eagerly with .backward() (the seed of tracead).

    python examples/micrograd_example.py
prints g, dg/da, dg/db: 24.7041 138.8338 645.5773
"""
import tracead as ta


def micrograd_example(a, b):
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def main() -> None:
    a = ta.tensor(-4.0, requires_grad=True)
    b = ta.tensor(2.0, requires_grad=True)
    g = micrograd_example(a, b)
    g.backward()
    print(f"{g.item():.4f} {a.grad.item():.4f} {b.grad.item():.4f}")


if __name__ == "__main__":
    main()
