"""Helpers for the transform tests: central differences over pytrees of NumPy
arrays (the independent reference) and a compiled call that must hit."""
from __future__ import annotations

import numpy as np

import tracead as ta


def compiled_twice(fn, *args, backend: str = "interpret"):
    """The second call of `ta.compile(fn)`, checked to have run the compiled variant."""
    cf = ta.compile(fn, backend=backend)
    cf(*args)  # traces; returns the eager run
    out = cf(*args)
    assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0, cf.stats
    return out


def as_numpy(tree):
    return ta.tree_map(lambda x: np.asarray(x), tree)


def assert_trees_close(got, expected, **tol) -> None:
    got_leaves, got_def = ta.tree_flatten(got)
    exp_leaves, exp_def = ta.tree_flatten(expected)
    assert got_def == exp_def, f"structure {got_def} != {exp_def}"
    for path, g, e in zip(got_def.paths(), got_leaves, exp_leaves):
        g, e = np.asarray(g), np.asarray(e)
        assert g.shape == e.shape, f"{path}: shape {g.shape} != {e.shape}"
        np.testing.assert_allclose(g, e, err_msg=path, **tol)


def _perturbed(tree, k: int, flat_index: int, delta: float):
    leaves, treedef = ta.tree_flatten(tree)
    leaves = [np.array(x, np.float64) for x in leaves]
    leaves[k].reshape(-1)[flat_index] += delta
    return treedef.unflatten(leaves)


def fd_grad(ref, tree, eps: float = 1e-6):
    """d ref / d tree by central differences (ref: NumPy, returns a scalar)."""
    leaves, treedef = ta.tree_flatten(tree)
    grads = []
    for k, leaf in enumerate(leaves):
        g = np.zeros(np.shape(leaf))
        for e in range(g.size):
            up = ref(_perturbed(tree, k, e, eps))
            down = ref(_perturbed(tree, k, e, -eps))
            g.reshape(-1)[e] = (up - down) / (2 * eps)
        grads.append(g)
    return treedef.unflatten(grads)


def fd_jvp(ref, primals: tuple, tangents: tuple, eps: float = 1e-6):
    """(ref(x + eps t) - ref(x - eps t)) / 2 eps, ref taking *primals (NumPy)."""
    def shifted(sign):
        return ref(*ta.tree_map(lambda x, t: np.asarray(x, np.float64) + sign * eps * np.asarray(t),
                                tuple(primals), tuple(tangents)))
    return ta.tree_map(lambda a, b: (np.asarray(a) - np.asarray(b)) / (2 * eps),
                       shifted(1), shifted(-1))


def fd_jacobian(ref, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """J[out..., in...] of a NumPy function of one array."""
    x = np.asarray(x, np.float64)
    cols = []
    for e in range(x.size):
        t = np.zeros_like(x)
        t.reshape(-1)[e] = 1
        cols.append(np.asarray(fd_jvp(ref, (x,), (t,), eps)))
    out_shape = np.shape(ref(x))
    return np.stack(cols, axis=-1).reshape(out_shape + x.shape)
