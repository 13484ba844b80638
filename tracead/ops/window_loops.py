"""Compiled loops for the sliding-window rows (`window.py`, `window_max.py`).

NumPy writes im2col as kh*kw strided copies of whole (N, C, Ho, Wo) slices
and col2im as kh*kw strided adds; with small images (a CNN's 4x4 or 8x8
feature maps) every copy is thousands of NumPy inner loops a few elements
long, which costs far more than the data. One Numba loop nest per op reads
or writes each element once and skips the padding instead of materialising
a padded copy. The NumPy versions in `window.py` stay as the reference and
run for dtypes these loops are not compiled for. Max pooling is one pass
for the first maximum of each window and a gather / scatter-add by plane
index, where NumPy would need the window copies, an argmax and np.add.at.

Compiled on first use with `cache=True` (Numba's on-disk cache), so
importing tracead does not import Numba.
"""
from __future__ import annotations

import numpy as np

from ..errors import op_error

# Element types the loops are compiled for; others take the NumPy path.
DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))

_loops: tuple | None = None


def _compile():
    import numba

    @numba.njit(cache=True, nogil=True)
    def tap_sources(kh, kw, ho, wo, sh, sw, pt, pl, dh, dw, h, w):
        """(kh, kw, Ho*Wo): the plane index r * W + s that tap (i, j) reads for each
        output position, -1 in the padding. Built once per call, so the loops below
        run over a whole Ho*Wo block per tap instead of a feature map's short rows
        with a bounds test per element."""
        src = np.full((kh, kw, ho * wo), -1, np.int64)
        for i in range(kh):
            for j in range(kw):
                for y in range(ho):
                    r = y * sh + i * dh - pt
                    for z in range(wo):
                        s = z * sw + j * dw - pl
                        if 0 <= r < h and 0 <= s < w:
                            src[i, j, y * wo + z] = r * w + s
        return src

    @numba.njit(cache=True, nogil=True)
    def im2col_loop(planes, out, src, fill, gemm):
        # planes (N, C, H*W); out (N, C, kh, kw, P) or, gemm, (C, kh, kw, N, P)
        n, c = planes.shape[0], planes.shape[1]
        kh, kw, p = src.shape
        for a in range(n):
            for b in range(c):
                for i in range(kh):
                    for j in range(kw):
                        for q in range(p):
                            k = src[i, j, q]
                            v = planes[a, b, max(k, 0)]
                            v = v if k >= 0 else fill
                            if gemm:
                                out[b, i, j, a, q] = v
                            else:
                                out[a, b, i, j, q] = v

    @numba.njit(cache=True, nogil=True)
    def col2im_loop(cols, planes, src, gemm):
        # the transpose: planes (N, C, H*W) += cols read as im2col wrote them
        n, c = planes.shape[0], planes.shape[1]
        kh, kw, p = src.shape
        for a in range(n):
            for b in range(c):
                for i in range(kh):
                    for j in range(kw):
                        for q in range(p):
                            k = src[i, j, q]
                            if k >= 0:
                                planes[a, b, k] += cols[b, i, j, a, q] if gemm else cols[a, b, i, j, q]

    @numba.njit(cache=True, nogil=True)
    def tap_ranges(n_out, stride, pad, dilation, k, size):
        """Per output position, the taps [lo, hi) that fall inside [0, size)
        (once per call: integer divisions inside the window loop cost more than the loop)."""
        lo, hi = np.zeros(n_out, np.int64), np.zeros(n_out, np.int64)
        for y in range(n_out):
            start = y * stride - pad
            t0 = 0 if start >= 0 else (-start + dilation - 1) // dilation
            t1 = 0 if start >= size else min(k, (size - start + dilation - 1) // dilation)
            lo[y], hi[y] = t0, max(t0, t1)
        return lo, hi

    @numba.njit(cache=True, nogil=True)
    def window_argmax_loop(x, out, kh, kw, sh, sw, pt, pl, dh, dw):
        n, c, ho, wo = out.shape
        h, w = x.shape[2], x.shape[3]
        ilo, ihi = tap_ranges(ho, sh, pt, dh, kh, h)
        jlo, jhi = tap_ranges(wo, sw, pl, dw, kw, w)
        for a in range(n):
            for b in range(c):
                for y in range(ho):
                    r0, i0, i1 = y * sh - pt, ilo[y], ihi[y]
                    for z in range(wo):
                        s0, j0, j1 = z * sw - pl, jlo[z], jhi[z]
                        if i0 == i1 or j0 == j1:
                            out[a, b, y, z] = -1  # padding only (plane_gather refuses it)
                            continue
                        rb, sb = r0 + i0 * dh, s0 + j0 * dw
                        best = x[a, b, rb, sb]
                        nan = False
                        for i in range(i0, i1):
                            r = r0 + i * dh
                            for j in range(j0, j1):
                                s = s0 + j * dw
                                v = x[a, b, r, s]
                                # one unordered compare as a select (no branch to mispredict);
                                # with a NaN it would keep the last one, so NaNs are flagged
                                take = not (v <= best)
                                nan = nan | (v != v)
                                rb = r if take else rb
                                sb = s if take else sb
                                best = v if take else best
                        if nan:  # NaN counts as the maximum: the first NaN (rare)
                            found = False
                            for i in range(i0, i1):
                                r = r0 + i * dh
                                for j in range(j0, j1):
                                    s = s0 + j * dw
                                    if not found and x[a, b, r, s] != x[a, b, r, s]:
                                        rb, sb, found = r, s, True
                        out[a, b, y, z] = rb * w + sb

    @numba.njit(cache=True, nogil=True)
    def plane_gather_loop(planes, index, out):
        n, c, ho, wo = index.shape
        for a in range(n):
            for b in range(c):
                for y in range(ho):
                    for z in range(wo):
                        out[a, b, y, z] = planes[a, b, index[a, b, y, z]]

    @numba.njit(cache=True, nogil=True)
    def plane_scatter_loop(g, index, planes):
        n, c, ho, wo = index.shape
        for a in range(n):
            for b in range(c):
                for y in range(ho):
                    for z in range(wo):
                        planes[a, b, index[a, b, y, z]] += g[a, b, y, z]

    return im2col_loop, col2im_loop, window_argmax_loop, plane_gather_loop, plane_scatter_loop, tap_sources


def _get():
    global _loops
    if _loops is None:
        _loops = _compile()
    return _loops


def _sources(x_hw, out_hw, kernel, stride, padding, dilation) -> np.ndarray:
    return _get()[5](kernel[0], kernel[1], out_hw[0], out_hw[1], stride[0], stride[1],
                     padding[0], padding[2], dilation[0], dilation[1], x_hw[0], x_hw[1])


def im2col(x: np.ndarray, out: np.ndarray, kernel, stride, padding, dilation, pad_value,
           gemm: bool = False) -> None:
    """Fill `out` (N, C, kh, kw, Ho, Wo), or with gemm (C, kh, kw, N, Ho, Wo), with the
    columns of x (padding read as pad_value)."""
    src = _sources(x.shape[2:], out.shape[4:], kernel, stride, padding, dilation)
    # explicit sizes, not -1: an empty batch has no size to infer
    planes = np.ascontiguousarray(x).reshape(x.shape[:2] + (x.shape[2] * x.shape[3],))
    blocks = out.reshape(out.shape[:4] + (out.shape[4] * out.shape[5],))
    _get()[0](planes, blocks, src, x.dtype.type(pad_value), gemm)


def col2im(cols: np.ndarray, image, kernel, stride, padding, dilation,
           gemm: bool = False) -> np.ndarray:
    """(N, C, H, W): every entry of cols, (N, C, kh, kw, Ho, Wo) or with gemm
    (C, kh, kw, N, Ho, Wo), added to the pixel it was read from."""
    nc = (cols.shape[3], cols.shape[0]) if gemm else cols.shape[:2]
    src = _sources(image, cols.shape[4:], kernel, stride, padding, dilation)
    out = np.zeros(tuple(nc) + tuple(image), cols.dtype)
    cols = np.ascontiguousarray(cols)
    blocks = cols.reshape(cols.shape[:4] + (cols.shape[4] * cols.shape[5],))
    _get()[1](blocks, out.reshape(tuple(nc) + (image[0] * image[1],)), src, gemm)
    return out


def window_argmax(x: np.ndarray, out_hw, kernel, stride, padding, dilation) -> np.ndarray:
    """int64 (N, C, Ho, Wo): the plane index r * W + s of each window's first maximum
    (NaN counts as the maximum; padding never wins)."""
    if x.dtype.kind not in "iuf" or x.dtype.itemsize < 4:
        x = x.astype(np.float64)  # exact for bool, small ints and float16; one compiled loop less
    out = np.empty(x.shape[:2] + tuple(out_hw), np.int64)
    _get()[2](x, out, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[2],
              dilation[0], dilation[1])
    return out


def plane_gather(x: np.ndarray, index: np.ndarray) -> np.ndarray:
    """out[n, c, y, z] = x[n, c].flat[index[n, c, y, z]]."""
    check_plane_index("plane_gather", index, x.shape[2:])
    out = np.empty(index.shape, x.dtype)
    # (N, C, H*W) planes: a flat index needs no division by W
    _get()[3](np.ascontiguousarray(x).reshape(x.shape[:2] + (x.shape[2] * x.shape[3],)), index, out)
    return out


def plane_scatter(g: np.ndarray, index: np.ndarray, image) -> np.ndarray:
    """(N, C, H, W) zeros with g[n, c, y, z] added at plane index index[n, c, y, z]."""
    check_plane_index("plane_scatter", index, image)
    out = np.zeros(g.shape[:2] + tuple(image), g.dtype)
    _get()[4](g, index, out.reshape(g.shape[:2] + (image[0] * image[1],)))
    return out


def check_plane_index(op: str, index: np.ndarray, image) -> None:
    """The loops do not bounds-check: an index outside the plane is an error here."""
    if index.size and (index.min() < 0 or index.max() >= image[0] * image[1]):
        raise op_error(op, f"plane index out of range for an image {tuple(image)}", index_error=True)
