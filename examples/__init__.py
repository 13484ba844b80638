"""Runnable examples (`python examples/NAME.py`); tests and benchmarks import their functions."""
