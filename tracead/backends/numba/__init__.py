"""The Numba backend: fused kernels generated from the graph."""
