"""Singular values and vectors, for the spectral and nuclear matrix norms.

`svdvals` is differentiable: for distinct singular values s = U^T x V,
ds_i / dx = u_i v_i^T, so the VJP is U diag(g) V^T. It needs U and V,
which come from `svd_u` and `svd_vh` (LAPACK is deterministic, so the three
rows factor the same matrix with the same signs). The second derivative
needs dU and dV, which these rows do not provide: their VJPs raise a clear
error instead of silently treating U and V as constants. "opaque": each is
one NumPy call over the trailing two axes (batched over the leading ones).
"""
from __future__ import annotations

import numpy as np

from .. import lax
from ..errors import op_error
from ..prim import Aval, Prim, register


def _float(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _svd_shape(name: str, part: str):
    def rule(x):
        if x.ndim < 2:
            raise op_error(name, f"needs a matrix (..., m, n), got shape {x.shape}", x)
        if x.dtype.kind != "f":
            raise op_error(name, f"needs a floating input, got {x.dtype}", x, type_error=True)
        m, n = x.shape[-2:]
        k = min(m, n)
        shape = {"s": (k,), "u": (m, k), "vh": (k, n)}[part]
        return Aval(x.shape[:-2] + shape, x.dtype)
    return rule


def _svdvals_impl(x):
    return np.linalg.svd(_float(x), compute_uv=False)


def _svd_u_impl(x):
    return np.linalg.svd(_float(x), full_matrices=False)[0]


def _svd_vh_impl(x):
    return np.linalg.svd(_float(x), full_matrices=False)[2]


def _svdvals_vjp(g, out, x):
    u, vh = lax.svd_u(x), lax.svd_vh(x)
    scaled = u * lax.reshape(g, g.shape[:-1] + (1, g.shape[-1]))
    return (lax.matmul(scaled, vh),)


def _no_second_derivative(name: str):
    def vjp(g, out, x):
        raise op_error(name, "the derivative of singular vectors is not supported (second "
                       "derivatives of the spectral and nuclear norms)", x)
    return vjp


svdvals_p = register(Prim("svdvals", "opaque", _svdvals_impl, _svd_shape("svdvals", "s"),
                          vjp=_svdvals_vjp, doc="singular values over the last two axes, descending"))
svd_u_p = register(Prim("svd_u", "opaque", _svd_u_impl, _svd_shape("svd_u", "u"),
                        vjp=_no_second_derivative("svd_u"),
                        doc="left singular vectors (..., m, k) of the reduced SVD"))
svd_vh_p = register(Prim("svd_vh", "opaque", _svd_vh_impl, _svd_shape("svd_vh", "vh"),
                         vjp=_no_second_derivative("svd_vh"),
                         doc="right singular vectors, transposed (..., k, n), of the reduced SVD"))
