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

# Element types the loops are compiled for; others take the NumPy path.
DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))

_loops: tuple | None = None


def _compile():
    import numba

    @numba.njit(cache=True, nogil=True)
    def output_ranges(k, n_out, stride, pad, dilation, size):
        """Per kernel tap t, the outputs [lo, hi) whose read y * stride + t * dilation - pad
        falls inside [0, size): the loops below then copy without a test per element."""
        lo, hi = np.zeros(k, np.int64), np.zeros(k, np.int64)
        for t in range(k):
            first, last = n_out, n_out
            for y in range(n_out):
                r = y * stride + t * dilation - pad
                if 0 <= r < size:
                    if first == n_out:
                        first = y
                    last = y + 1
            lo[t], hi[t] = first, last  # (n_out, n_out) when no output reads inside
        return lo, hi

    @numba.njit(cache=True, nogil=True)
    def im2col_loop(x, out, sh, sw, pt, pl, dh, dw, fill):
        n, c, kh, kw, ho, wo = out.shape
        h, w = x.shape[2], x.shape[3]
        ylo, yhi = output_ranges(kh, ho, sh, pt, dh, h)
        zlo, zhi = output_ranges(kw, wo, sw, pl, dw, w)
        for a in range(n):
            for b in range(c):
                for i in range(kh):
                    for j in range(kw):
                        z0, z1 = zlo[j], zhi[j]
                        for y in range(ho):
                            if ylo[i] <= y < yhi[i]:
                                r = y * sh + i * dh - pt
                                for z in range(z0):
                                    out[a, b, i, j, y, z] = fill
                                for z in range(z0, z1):
                                    out[a, b, i, j, y, z] = x[a, b, r, z * sw + j * dw - pl]
                                for z in range(z1, wo):
                                    out[a, b, i, j, y, z] = fill
                            else:
                                for z in range(wo):
                                    out[a, b, i, j, y, z] = fill

    @numba.njit(cache=True, nogil=True)
    def col2im_loop(cols, out, sh, sw, pt, pl, dh, dw):
        n, c, kh, kw, ho, wo = cols.shape
        h, w = out.shape[2], out.shape[3]
        ylo, yhi = output_ranges(kh, ho, sh, pt, dh, h)
        zlo, zhi = output_ranges(kw, wo, sw, pl, dw, w)
        for a in range(n):
            for b in range(c):
                for i in range(kh):
                    for j in range(kw):
                        for y in range(ylo[i], yhi[i]):
                            r = y * sh + i * dh - pt
                            for z in range(zlo[j], zhi[j]):
                                out[a, b, r, z * sw + j * dw - pl] += cols[a, b, i, j, y, z]

    @numba.njit(cache=True, nogil=True)
    def im2col_batch_last_loop(x, out, sh, sw, pt, pl, dh, dw, fill):
        # out (C, kh, kw, Ho, Wo, N): the innermost loop runs over the batch, N long,
        # where the image-order loops above run over rows only Wo long
        c, kh, kw, ho, wo, n = out.shape
        h, w = x.shape[2], x.shape[3]
        ylo, yhi = output_ranges(kh, ho, sh, pt, dh, h)
        zlo, zhi = output_ranges(kw, wo, sw, pl, dw, w)
        for b in range(c):
            for i in range(kh):
                for j in range(kw):
                    for y in range(ho):
                        r = y * sh + i * dh - pt
                        for z in range(wo):
                            if ylo[i] <= y < yhi[i] and zlo[j] <= z < zhi[j]:
                                s = z * sw + j * dw - pl
                                for a in range(n):
                                    out[b, i, j, y, z, a] = x[a, b, r, s]
                            else:
                                for a in range(n):
                                    out[b, i, j, y, z, a] = fill

    @numba.njit(cache=True, nogil=True)
    def col2im_batch_last_loop(cols, out, sh, sw, pt, pl, dh, dw):
        c, kh, kw, ho, wo, n = cols.shape
        h, w = out.shape[2], out.shape[3]
        ylo, yhi = output_ranges(kh, ho, sh, pt, dh, h)
        zlo, zhi = output_ranges(kw, wo, sw, pl, dw, w)
        for b in range(c):
            for i in range(kh):
                for j in range(kw):
                    for y in range(ylo[i], yhi[i]):
                        r = y * sh + i * dh - pt
                        for z in range(zlo[j], zhi[j]):
                            s = z * sw + j * dw - pl
                            for a in range(n):
                                out[a, b, r, s] += cols[b, i, j, y, z, a]

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

    return (im2col_loop, col2im_loop, window_argmax_loop, plane_gather_loop, plane_scatter_loop,
            im2col_batch_last_loop, col2im_batch_last_loop)


def _get():
    global _loops
    if _loops is None:
        _loops = _compile()
    return _loops


def im2col(x: np.ndarray, out: np.ndarray, stride, padding, dilation, pad_value,
           batch_last: bool = False) -> None:
    """Fill `out`, (N, C, kh, kw, Ho, Wo) or with batch_last (C, kh, kw, Ho, Wo, N),
    with the columns of x (padding read as pad_value)."""
    fill = x.dtype.type(pad_value)
    loop = _get()[5 if batch_last else 0]
    loop(x, out, stride[0], stride[1], padding[0], padding[2], dilation[0], dilation[1], fill)


def col2im(cols: np.ndarray, image, stride, padding, dilation,
           batch_last: bool = False) -> np.ndarray:
    """(N, C, H, W): every entry of cols, (N, C, kh, kw, Ho, Wo) or with batch_last
    (C, kh, kw, Ho, Wo, N), added to the pixel it was read from."""
    nc = (cols.shape[-1], cols.shape[0]) if batch_last else cols.shape[:2]
    out = np.zeros(tuple(nc) + tuple(image), cols.dtype)
    _get()[6 if batch_last else 1](cols, out, stride[0], stride[1], padding[0], padding[2], dilation[0], dilation[1])
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
    _get()[3](np.ascontiguousarray(x).reshape(x.shape[:2] + (-1,)), index, out)
    return out


def plane_scatter(g: np.ndarray, index: np.ndarray, image) -> np.ndarray:
    """(N, C, H, W) zeros with g[n, c, y, z] added at plane index index[n, c, y, z]."""
    check_plane_index("plane_scatter", index, image)
    out = np.zeros(g.shape[:2] + tuple(image), g.dtype)
    _get()[4](g, index, out.reshape(g.shape[:2] + (-1,)))
    return out


def check_plane_index(op: str, index: np.ndarray, image) -> None:
    """The loops do not bounds-check: an index outside the plane is an error here."""
    if index.size and (index.min() < 0 or index.max() >= image[0] * image[1]):
        from ..errors import op_error
        raise op_error(op, f"plane index out of range for an image {tuple(image)}", index_error=True)
