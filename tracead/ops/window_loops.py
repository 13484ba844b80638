"""Compiled loops for im2col and col2im (the impls of `window.py`'s rows).

NumPy writes im2col as kh*kw strided copies of whole (N, C, Ho, Wo) slices
and col2im as kh*kw strided adds; with small images (a CNN's 4x4 or 8x8
feature maps) every copy is thousands of NumPy inner loops a few elements
long, which costs far more than the data. One Numba loop nest per op reads
or writes each element once and skips the padding instead of materialising
a padded copy. The NumPy versions in `window.py` stay as the reference and
run for dtypes these loops are not compiled for.

Compiled on first use with `cache=True` (Numba's on-disk cache), so
importing tracead does not import Numba.
"""
from __future__ import annotations

import numpy as np

# Element types the loops are compiled for; others take the NumPy path.
DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))

_loops: tuple | None = None


def _compile():
    import numba

    @numba.njit(cache=True, nogil=True)
    def im2col_loop(x, out, sh, sw, pt, pl, dh, dw, fill):
        n, c, kh, kw, ho, wo = out.shape
        h, w = x.shape[2], x.shape[3]
        for a in range(n):
            for b in range(c):
                for i in range(kh):
                    for j in range(kw):
                        for y in range(ho):
                            r = y * sh + i * dh - pt
                            inside = 0 <= r < h
                            for z in range(wo):
                                s = z * sw + j * dw - pl
                                if inside and 0 <= s < w:
                                    out[a, b, i, j, y, z] = x[a, b, r, s]
                                else:
                                    out[a, b, i, j, y, z] = fill

    @numba.njit(cache=True, nogil=True)
    def col2im_loop(cols, out, sh, sw, pt, pl, dh, dw):
        n, c, kh, kw, ho, wo = cols.shape
        h, w = out.shape[2], out.shape[3]
        for a in range(n):
            for b in range(c):
                for i in range(kh):
                    for j in range(kw):
                        for y in range(ho):
                            r = y * sh + i * dh - pt
                            if 0 <= r < h:
                                for z in range(wo):
                                    s = z * sw + j * dw - pl
                                    if 0 <= s < w:
                                        out[a, b, r, s] += cols[a, b, i, j, y, z]

    return im2col_loop, col2im_loop


def _get():
    global _loops
    if _loops is None:
        _loops = _compile()
    return _loops


def im2col(x: np.ndarray, shape, stride, padding, dilation, pad_value) -> np.ndarray:
    """(N, C, kh, kw, Ho, Wo) columns of x (padding read as pad_value)."""
    out = np.empty(shape, x.dtype)
    fill = x.dtype.type(pad_value)
    _get()[0](x, out, stride[0], stride[1], padding[0], padding[2], dilation[0], dilation[1], fill)
    return out


def col2im(cols: np.ndarray, image, stride, padding, dilation) -> np.ndarray:
    """(N, C, H, W): every column entry added to the pixel it was read from."""
    out = np.zeros(cols.shape[:2] + tuple(image), cols.dtype)
    _get()[1](cols, out, stride[0], stride[1], padding[0], padding[2], dilation[0], dilation[1])
    return out
