"""The static-graph seed example: value and gradients with ta.value_and_grad.

    python examples/static_graph.py
prints g, dg/da, dg/do: 47.0 -432.0 -1.0
"""
import tracead as ta


def g(a, o):
    b = 5 - 3 * a
    c = 2 * b + 3
    d = 5 * b + 6
    e = 7 * c + d**2
    f = 2 * e
    return 3 * f - o


def main() -> None:
    value, (da, do) = ta.value_and_grad(g, argnums=(0, 1))(2.0, 1.0)
    print(f"{value.item():.1f} {da.item():.1f} {do.item():.1f}")


if __name__ == "__main__":
    main()
