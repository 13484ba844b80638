"""Convolution, pooling and resizing against direct NumPy loop references.

Forward values against hand-written loops (torch's definitions), gradients
against central differences, eager and compiled (numba backend, second
call, hits counted), and the error messages for bad geometry.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead import nn
from tracead.nn import functional as F
from checks import check_vjp

RNG = np.random.default_rng(0)


# -- references: plain loops over output positions ------------------------------------------
def ref_conv2d(x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), dil=(1, 1), groups=1):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    ho = (xp.shape[2] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (xp.shape[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for y in range(ho):
            for z in range(wo):
                patch = xp[:, g * cg:(g + 1) * cg, y * stride[0]:y * stride[0] + dil[0] * (kh - 1) + 1:dil[0],
                           z * stride[1]:z * stride[1] + dil[1] * (kw - 1) + 1:dil[1]]
                out[:, oc, y, z] = (patch * w[oc]).sum(axis=(1, 2, 3))
    return out if b is None else out + b[None, :, None, None]


def ref_conv_transpose2d(x, w, stride, pad, out_pad, dil=(1, 1)):
    """Scatter each input pixel times the kernel into the output (the definition)."""
    n, cin, h, wd = x.shape
    _, cout, kh, kw = w.shape
    H = (h - 1) * stride[0] + dil[0] * (kh - 1) + 1 + out_pad[0]
    W = (wd - 1) * stride[1] + dil[1] * (kw - 1) + 1 + out_pad[1]
    full = np.zeros((n, cout, H, W))
    for y in range(h):
        for z in range(wd):
            for i in range(kh):
                for j in range(kw):
                    full[:, :, y * stride[0] + i * dil[0], z * stride[1] + j * dil[1]] += \
                        x[:, :, y, z] @ w[:, :, i, j]
    return full[:, :, pad[0]:H - pad[0], pad[1]:W - pad[1]]


def ref_pool(x, k, s, p, reduce, fill):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((n, c, ho, wo))
    for y in range(ho):
        for z in range(wo):
            out[:, :, y, z] = reduce(xp[:, :, y * s:y * s + k, z * s:z * s + k], axis=(2, 3))
    return out


def ref_bilinear(x, oh, ow, align):
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow))
    for y in range(oh):
        for z in range(ow):
            if align:
                sy = y * (h - 1) / (oh - 1) if oh > 1 else 0.0
                sz = z * (w - 1) / (ow - 1) if ow > 1 else 0.0
            else:
                sy = max((y + 0.5) * h / oh - 0.5, 0.0)
                sz = max((z + 0.5) * w / ow - 0.5, 0.0)
            y0, z0 = min(int(sy), h - 1), min(int(sz), w - 1)
            y1, z1 = min(y0 + 1, h - 1), min(z0 + 1, w - 1)
            fy, fz = sy - y0, sz - z0
            out[:, :, y, z] = ((1 - fy) * ((1 - fz) * x[:, :, y0, z0] + fz * x[:, :, y0, z1])
                               + fy * ((1 - fz) * x[:, :, y1, z0] + fz * x[:, :, y1, z1]))
    return out


CONV_CASES = [  # (x shape, w shape, kwargs, reference padding)
    ((2, 3, 5, 6), (4, 3, 3, 3), {}, (0, 0, 0, 0)),
    ((1, 2, 6, 5), (3, 2, 3, 2), {"stride": 2, "padding": 1}, (1, 1, 1, 1)),
    ((2, 4, 7, 7), (4, 2, 3, 3), {"padding": (2, 1), "dilation": 2, "groups": 2}, (2, 2, 1, 1)),
    ((1, 1, 5, 5), (2, 1, 4, 2), {"padding": "same"}, (1, 2, 0, 1)),
    ((1, 2, 4, 4), (2, 2, 3, 3), {"padding": "valid", "stride": (1, 2)}, (0, 0, 0, 0)),
]


@pytest.mark.parametrize("xs,ws,kw,pad", CONV_CASES)
def test_conv2d_matches_loop_reference(xs, ws, kw, pad):
    x, w, b = RNG.normal(size=xs), RNG.normal(size=ws), RNG.normal(size=ws[0])
    got = F.conv2d(x, w, b, **kw).numpy()
    stride = kw.get("stride", 1)
    stride = (stride, stride) if isinstance(stride, int) else stride
    dil = (kw.get("dilation", 1),) * 2
    want = ref_conv2d(x, w, b, stride, pad, dil, kw.get("groups", 1))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    if kw.get("padding") == "same":
        assert got.shape[2:] == xs[2:]


@pytest.mark.parametrize("xs,ws,kw,pad", CONV_CASES[1:3])
def test_conv2d_gradients_match_finite_differences(xs, ws, kw, pad):
    x, w, b = RNG.normal(size=xs), RNG.normal(size=ws), RNG.normal(size=ws[0])
    check_vjp("eager", lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b], (0, 1, 2),
              np.random.default_rng(1), eps=1e-6, tol=1e-6, msg="conv2d")


def test_conv1d_matches_conv2d_reference():
    x, w = RNG.normal(size=(2, 3, 9)), RNG.normal(size=(4, 3, 3))
    got = F.conv1d(x, w, stride=2, padding=1).numpy()
    want = ref_conv2d(x[:, :, None], w[:, :, None], stride=(1, 2), pad=(0, 0, 1, 1))[:, :, 0]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert F.conv1d(x[0], w).shape == (4, 7)  # unbatched input, as torch


@pytest.mark.parametrize("stride,pad,out_pad,dil,groups", [
    ((1, 1), (0, 0), (0, 0), (1, 1), 1), ((2, 2), (1, 0), (1, 0), (1, 1), 1),
    ((2, 1), (0, 1), (0, 0), (1, 2), 2)])
def test_conv_transpose2d_matches_scatter_reference(stride, pad, out_pad, dil, groups):
    x = RNG.normal(size=(2, 4, 3, 4))
    w = RNG.normal(size=(4, 3, 3, 2))
    got = F.conv_transpose2d(x, w, None, stride, pad, out_pad, groups, dil).numpy()
    if groups == 1:
        want = ref_conv_transpose2d(x, w, stride, pad, out_pad, dil)
    else:
        want = np.concatenate([ref_conv_transpose2d(x[:, 2 * g:2 * g + 2], w[2 * g:2 * g + 2],
                                                    stride, pad, out_pad, dil)
                               for g in range(2)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    check_vjp("eager", lambda x, w: F.conv_transpose2d(x, w, None, stride, pad, out_pad, groups, dil),
              [x, w], (0, 1), np.random.default_rng(2), eps=1e-6, tol=1e-6, msg="conv_transpose2d")


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x), y> == <x, conv_transpose(y)> for the same weight and geometry."""
    x, w = RNG.normal(size=(2, 3, 7, 6)), RNG.normal(size=(5, 3, 3, 3))
    y = F.conv2d(x, w, stride=2, padding=1).numpy()
    r = RNG.normal(size=y.shape)
    back = F.conv_transpose2d(r, w, stride=2, padding=1, output_padding=(0, 1)).numpy()
    assert back.shape == x.shape
    np.testing.assert_allclose((y * r).sum(), (x * back).sum(), rtol=1e-10)


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 1, 1), (3, 2, 1)])
def test_pooling_matches_loop_reference(k, s, p):
    x = RNG.normal(size=(2, 3, 6, 5))
    np.testing.assert_allclose(F.max_pool2d(x, k, s, p).numpy(),
                               ref_pool(x, k, s, p, np.max, -np.inf), rtol=1e-12)
    np.testing.assert_allclose(F.avg_pool2d(x, k, s, p).numpy(),
                               ref_pool(x, k, s, p, np.mean, 0.0), rtol=1e-12)
    check_vjp("eager", lambda x: F.max_pool2d(x, k, s, p), [x], (0,), np.random.default_rng(3),
              eps=1e-6, tol=1e-6, msg="max_pool2d")
    check_vjp("eager", lambda x: F.avg_pool2d(x, k, s, p), [x], (0,), np.random.default_rng(4),
              eps=1e-6, tol=1e-6, msg="avg_pool2d")


def test_avg_pool_count_include_pad_and_ceil_mode():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    excl = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False).numpy()
    assert excl[0, 0, 0, 0] == np.mean([0, 1, 5, 6])
    # ceil_mode: a last, partial window (torch: (5 - 2) / 2 rounded up + 1 = 3 outputs)
    assert F.max_pool2d(x, 2, 2, ceil_mode=True).shape == (1, 1, 3, 3)
    np.testing.assert_array_equal(F.max_pool2d(x, 2, 2, ceil_mode=True).numpy()[0, 0, 2], [21, 23, 24])
    np.testing.assert_array_equal(F.avg_pool2d(x, 2, 2, ceil_mode=True).numpy()[0, 0, :, 2],
                                  [(4 + 9) / 2, (14 + 19) / 2, 24])


def test_adaptive_avg_pool_and_interpolate():
    x = RNG.normal(size=(1, 2, 5, 7))
    got = F.adaptive_avg_pool2d(x, (2, 3)).numpy()
    rows, cols = [(0, 3), (2, 5)], [(0, 3), (2, 5), (4, 7)]
    want = np.array([[[x[0, c, r0:r1, c0:c1].mean() for c0, c1 in cols] for r0, r1 in rows]
                     for c in range(2)])
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    near = F.interpolate(x, scale_factor=2).numpy()
    np.testing.assert_array_equal(near, x.repeat(2, axis=2).repeat(2, axis=3))
    for align in (False, True):
        got = F.interpolate(x, size=(8, 4), mode="bilinear", align_corners=align).numpy()
        np.testing.assert_allclose(got, ref_bilinear(x, 8, 4, align), rtol=1e-12, atol=1e-14)
    check_vjp("eager", lambda x: F.interpolate(x, size=(3, 9), mode="bilinear"), [x], (0,),
              np.random.default_rng(5), eps=1e-6, tol=1e-6, msg="interpolate")


def test_bad_geometry_is_a_clear_error():
    x = np.zeros((1, 2, 4, 4), np.float32)
    with pytest.raises(ta.errors.OpError, match="conv2d.*groups"):
        F.conv2d(x, np.zeros((2, 3, 3, 3), np.float32))
    with pytest.raises(ta.errors.OpError, match="im2col.*larger than the padded input"):
        F.conv2d(x, np.zeros((2, 2, 5, 5), np.float32))
    with pytest.raises(TypeError, match="conv2d.*dtype"):
        F.conv2d(x, np.zeros((2, 2, 3, 3)))
    with pytest.raises(ta.errors.OpError, match="'same' needs stride 1"):
        F.conv2d(x, np.zeros((2, 2, 3, 3), np.float32), stride=2, padding="same")


# -- compiled: a small CNN step, second call against eager ---------------------------------------
def test_compiled_conv_pool_step_matches_eager_and_runs_compiled():
    x = RNG.normal(size=(4, 2, 6, 6)).astype(np.float32)

    def loss(w, b, x):
        h = F.relu(F.conv2d(x, w, b, padding=1))
        h = F.max_pool2d(h, 2) + F.avg_pool2d(h, 2)
        return F.conv_transpose2d(h, w, stride=2, output_padding=1).sum() \
            + F.interpolate(h, scale_factor=2, mode="bilinear").mean()

    w = RNG.normal(size=(3, 2, 3, 3)).astype(np.float32)
    b = RNG.normal(size=3).astype(np.float32)
    vg = ta.value_and_grad(loss, argnums=(0, 1))
    cf = ta.compile(vg)
    cf(w, b, x)
    w2 = RNG.normal(size=w.shape).astype(np.float32)
    value, grads = cf(w2, b, x)
    ref_value, ref_grads = vg(w2, b, x)
    assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
    np.testing.assert_allclose(float(value), float(ref_value), rtol=1e-5)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g.numpy(), r.numpy(), rtol=1e-4, atol=1e-4)


# -- im2col / col2im loops against the NumPy references; max-pool's first-max rule ------------
def _window_geometries():
    for shape in [(2, 3, 5, 4), (1, 1, 1, 1), (1, 2, 3, 7), (0, 2, 3, 3)]:
        for kernel in [(1, 1), (2, 3), (3, 3)]:
            for stride in [(1, 1), (2, 1), (1, 3)]:
                for pads in [(0, 0, 0, 0), (1, 1, 1, 1), (1, 0, 2, 1)]:
                    for dil in [(1, 1), (2, 1)]:
                        h = shape[2] + pads[0] + pads[1] - dil[0] * (kernel[0] - 1)
                        w = shape[3] + pads[2] + pads[3] - dil[1] * (kernel[1] - 1)
                        if h >= 1 and w >= 1:
                            yield shape, kernel, stride, pads, dil


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.int16])
def test_im2col_col2im_loops_match_numpy_references(dtype):
    from tracead.ops.window import _col2im_impl, _im2col_impl, col2im_numpy, im2col_numpy
    rng = np.random.default_rng(7)
    fill = -np.inf if np.dtype(dtype).kind == "f" else float(np.iinfo(dtype).min)
    for shape, kernel, stride, pads, dil in _window_geometries():
        x = (rng.normal(size=shape) * 5).astype(dtype)
        geometry = dict(kernel=kernel, stride=stride, padding=pads, dilation=dil)
        for pad_value in (0.0, fill):
            got = _im2col_impl(x, pad_value=pad_value, **geometry)
            want = im2col_numpy(x, got.shape, stride, pads, dil, pad_value)
            assert got.dtype == want.dtype and np.array_equal(got, want), (shape, geometry)
            gemm = _im2col_impl(x, pad_value=pad_value, layout="gemm", **geometry)
            assert np.array_equal(gemm, want.transpose(1, 2, 3, 0, 4, 5)), (shape, geometry)
        cols = (rng.normal(size=got.shape) * 5).astype(dtype)
        want = col2im_numpy(cols, shape[2:], stride, pads, dil)
        for c in (cols, np.asfortranarray(cols), cols[..., ::-1].copy()[..., ::-1]):  # any strides
            back = _col2im_impl(c, image=shape[2:], **geometry)
            assert back.dtype == want.dtype and back.shape == want.shape
            np.testing.assert_allclose(back, want, rtol=1e-5, atol=1e-4)
            back = _col2im_impl(c.transpose(1, 2, 3, 0, 4, 5), image=shape[2:], layout="gemm",
                                **geometry)
            np.testing.assert_allclose(back, want, rtol=1e-5, atol=1e-4)


def _first_max_grad(x, k, s, p, r):
    """The cotangent r of each window sent to its first maximum (NaN first), torch's rule."""
    grad = np.zeros(x.shape)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    index = np.zeros(r.shape, np.int64)
    for a, b, y, z in np.ndindex(*r.shape):
        win = xp[a, b, y * s:y * s + k, z * s:z * s + k]
        yy, zz = divmod(int(np.argmax(win)), k)  # np.argmax: the first max, or the first NaN
        grad[a, b, y * s + yy - p, z * s + zz - p] += r[a, b, y, z]
        index[a, b, y, z] = (y * s + yy - p) * x.shape[3] + z * s + zz - p
    return grad, index


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k,s,p", [((2, 3, 6, 4), 2, 2, 0), ((1, 1, 2, 2), 2, 2, 0),
                                         ((2, 1, 5, 5), 3, 1, 1), ((1, 2, 4, 6), 3, 2, 1),
                                         ((2, 2, 5, 4), 2, 2, 0), ((1, 1, 3, 3), 2, 1, 0)])
def test_max_pool_gradient_goes_to_the_first_maximum(dtype, shape, k, s, p):
    rng = np.random.default_rng(11)
    for x in (rng.normal(size=shape), np.round(rng.normal(size=shape))):  # the second has ties
        x = x.astype(dtype)
        if x.size > 3:
            x.reshape(-1)[3] = np.nan
        out = F.max_pool2d(x, k, s, p)
        np.testing.assert_allclose(out.numpy(), ref_pool(x.astype(np.float64), k, s, p, np.max, -np.inf),
                                   rtol=1e-6)
        r = rng.normal(size=out.shape)
        want, index = _first_max_grad(x, k, s, p, r)
        xt = ta.Tensor(x, requires_grad=True)
        (F.max_pool2d(xt, k, s, p) * ta.Tensor(r.astype(dtype))).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), want, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(F.max_pool2d(x, k, s, p, return_indices=True)[1].numpy(), index)


def test_compiled_max_pool_uses_no_scatter_and_matches_eager():
    x = np.round(RNG.normal(size=(3, 2, 4, 6))).astype(np.float32)  # ties
    r = RNG.normal(size=(3, 2, 2, 3)).astype(np.float32)
    vg = ta.value_and_grad(lambda x: (F.max_pool2d(F.relu(x), 2) * r).sum())
    cf = ta.compile(vg)
    cf(x)
    value, grad = cf(x)
    assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
    ops = str(ta.explain(cf, x).graphs())
    assert "window_argmax" in ops and "plane_scatter" in ops  # one pass each, no NumPy fallbacks:
    assert "scatter_add" not in ops and " argmax " not in ops and "im2col" not in ops
    want, _ = _first_max_grad(np.maximum(x, 0), 2, 2, 0, r)
    np.testing.assert_allclose(grad.numpy(), want * (x > 0), rtol=1e-6)
