"""Command line: `python -m tracead demo [options]`.

With no command (or -h/--help) it prints the usage.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tracead",
        description="tracead: trace-and-compile autodiff on NumPy + Numba.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="train an MLP on scikit-learn's digits, eager and compiled, and compare",
        description="Train a 64-128-64-10 ReLU MLP on scikit-learn's bundled digits eagerly "
                    "and with tracead.compile; print accuracy, time per step, speedup and the "
                    "explain() summary.")
    from .demo import add_arguments

    add_arguments(demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        from .demo import main_from_args

        return main_from_args(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
