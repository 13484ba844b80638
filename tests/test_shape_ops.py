"""Shape, indexing and contraction functions: torch / NumPy conventions and errors.

Values and gradients of every function, in every mode, are in the op sweep
(`opinfo_shapes.py`); this file pins down the conventions that differ
between torch and NumPy (split, chunk, squeeze, repeat, meshgrid, pad),
the NumPy dispatch (`np.einsum(t, ...)`), einsum's grammar against
`np.einsum`, vmap of the composites, and the error messages.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead.errors import OpError
from checks import check_vjp
from modes import MODES, run_value_and_grad

RNG = np.random.default_rng(0)


def _shapes(parts):
    return [p.shape for p in parts]


# -- torch conventions -----------------------------------------------------------------------
def test_split_and_chunk_follow_torch():
    x = ta.tensor(np.arange(6.0))
    assert _shapes(ta.split(x, 4)) == [(4,), (2,)]             # a size, last piece smaller
    assert _shapes(x.split([1, 5])) == [(1,), (5,)]
    assert _shapes(x.chunk(4)) == [(2,), (2,), (2,)]           # torch: ceil(6/4)=2 -> 3 chunks
    assert _shapes(ta.chunk(ta.tensor(np.zeros((0, 2))), 3)) == [(0, 2)] * 3
    assert _shapes(ta.array_split(x, 4)) == [(2,), (2,), (1,), (1,)]  # NumPy's sections
    assert _shapes(np.split(x, [2, -1])) == [(2,), (3,), (1,)]
    with pytest.raises(OpError, match="split: array split does not result in an equal division"):
        np.split(x, 4)
    with pytest.raises(OpError, match=r"split: sizes \[1, 2\] do not add up to 6"):
        x.split([1, 2])


def test_squeeze_repeat_expand_meshgrid_follow_their_libraries():
    x = ta.tensor(np.zeros((1, 3, 1)))
    assert x.squeeze().shape == (3,) and x.squeeze(1).shape == (1, 3, 1)  # torch ignores size 3
    assert x.squeeze((0, 2)).shape == (3,)
    with pytest.raises(OpError, match=r"squeeze: cannot squeeze axes \(1,\) of size != 1"):
        np.squeeze(x, 1)
    assert x.unsqueeze(0).shape == (1, 1, 3, 1) and x.unsqueeze(-1).shape == (1, 3, 1, 1)
    y = ta.tensor(np.arange(3.0))
    np.testing.assert_array_equal(y.repeat(2, 2).numpy(), np.tile(np.arange(3.0), (2, 2)))
    with pytest.raises(OpError, match="repeat: 1 repeat sizes for a 2-d tensor"):
        ta.tensor(np.zeros((2, 2))).repeat(2)
    np.testing.assert_array_equal(np.repeat(y, 2).numpy(), np.repeat(np.arange(3.0), 2))
    assert ta.tensor(np.zeros((3, 1))).expand(2, -1, 4).shape == (2, 3, 4)
    assert ta.tensor(np.zeros((2, 3, 4))).mT.shape == (2, 4, 3)
    assert ta.tensor(np.zeros(12)).view(-1, 4).shape == (3, 4)
    a, b = ta.tensor(np.arange(2.0)), ta.tensor(np.arange(3.0))
    assert [g.shape for g in ta.meshgrid(a, b)] == [(2, 3), (2, 3)]   # torch default "ij"
    assert [g.shape for g in np.meshgrid(a, b)] == [(3, 2), (3, 2)]  # NumPy default "xy"


def test_flatten_permute_movedim():
    x = ta.tensor(RNG.standard_normal((2, 3, 4)))
    assert ta.flatten(x).shape == (24,) and ta.flatten(x, 1).shape == (2, 12)
    assert ta.flatten(ta.tensor(1.0)).shape == (1,)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.permute((2, 0, 1)).shape == (4, 2, 3)
    np.testing.assert_array_equal(ta.movedim(x, -1, 0).numpy(), np.moveaxis(x.numpy(), -1, 0))
    np.testing.assert_array_equal(np.moveaxis(x, [0, 1], [-1, -2]).numpy(),
                                  np.moveaxis(x.numpy(), [0, 1], [-1, -2]))
    with pytest.raises(OpError, match="permute: repeated dim"):
        x.permute(0, 0, 1)


def test_pad_spellings_and_limits():
    x = ta.tensor(np.arange(6.0).reshape(2, 3))
    # torch lists the last dim first: (left, right, top, bottom)
    np.testing.assert_array_equal(ta.pad(x, (1, 0, 0, 2)).numpy(), np.pad(x.numpy(), ((0, 2), (1, 0))))
    np.testing.assert_array_equal(ta.np_pad(x, ((0, 2), (1, 0))).numpy(), np.pad(x.numpy(), ((0, 2), (1, 0))))
    np.testing.assert_array_equal(np.pad(x, 2, mode="edge").numpy(), np.pad(x.numpy(), 2, mode="edge"))
    with pytest.raises(OpError, match="pad: reflect padding .* must be smaller than the dim's size 3"):
        ta.pad(x, (3, 0), mode="reflect")
    with pytest.raises(OpError, match="pad: mode must be one of"):
        ta.pad(x, (1, 1), mode="mirror")
    with pytest.raises(OpError, match=r"pad: pad \(1, 1, 1\) must hold \(left, right\) pairs"):
        ta.pad(x, (1, 1, 1))


# -- NumPy functions on tensors dispatch to tracead, gradients included -------------------------
NUMPY_CALLS = [
    ("einsum", lambda a, b: np.einsum("ij,kj->ik", a, b)),
    ("tensordot", lambda a, b: np.tensordot(a, b, axes=([1], [1]))),
    ("outer", lambda a, b: np.outer(a, b)),
    ("inner", lambda a, b: np.inner(a, b)),
    ("dot", lambda a, b: np.dot(a, b.T)),
    ("vdot", lambda a, b: np.vdot(a, b)),
    ("pad", lambda a, b: np.pad(a, ((1, 0), (0, 2)), mode="reflect") * b.sum()),
    ("roll flip tril", lambda a, b: np.tril(np.roll(np.flip(a, 0), 1, axis=1)) + b),
    ("tile repeat", lambda a, b: np.tile(a, (1, 2)) + np.repeat(b, 2, axis=1)),
    ("take_along_axis", lambda a, b: np.take_along_axis(a, np.array([[2, 0], [1, 1]]), 1)),
    ("split moveaxis", lambda a, b: np.moveaxis(np.stack(np.split(a, 3, axis=1)), 0, -1)),
]


@pytest.mark.parametrize("name,call", NUMPY_CALLS, ids=[n for n, _ in NUMPY_CALLS])
def test_numpy_functions_on_tensors_are_tracead_ops(name, call):
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    out = call(ta.tensor(a), ta.tensor(b))
    assert isinstance(out, ta.Tensor), f"{name} left tracead"
    np.testing.assert_allclose(out.numpy(), call(a, b), rtol=1e-12, atol=1e-12)
    check_vjp("eager", call, [a, b], (0, 1), np.random.default_rng(1), msg=name)


# -- einsum's grammar against np.einsum ----------------------------------------------------------
EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij->ji", [(2, 3)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->ji", [(2, 2, 3)]), ("i,i->", [(3,), (3,)]),
    ("i,i->i", [(3,), (3,)]), ("i,j->ij", [(2,), (3,)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("bij,jk->bik", [(2, 2, 3), (3, 2)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("...i,...i", [(2, 3), (3,)]), ("i...->...", [(2, 3, 4)]), ("ij,ij,ij->i", [(2, 3)] * 3),
    ("abc,cd,da->b", [(2, 3, 4), (4, 5), (5, 2)]), ("ijk,ikj->i", [(2, 3, 3), (2, 3, 3)]),
    ("ij,ij->", [(0, 3), (0, 3)]), ("", [()]), (",->", [(), ()]), ("i,->i", [(3,), ()]),
    ("ab, bc -> ac", [(2, 2), (2, 2)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM, ids=[s or "scalar" for s, _ in EINSUM])
def test_einsum_matches_numpy(subscripts, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    out = ta.einsum(subscripts, *(ta.tensor(a) for a in arrays))
    expected = np.einsum(subscripts, *arrays)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    if all(a.size for a in arrays):
        fn = lambda *xs: ta.einsum(subscripts, *xs)  # noqa: E731
        check_vjp("eager", fn, arrays, tuple(range(len(arrays))), np.random.default_rng(2),
                  msg=subscripts)


def test_einsum_runs_contractions_as_matmul_and_mixed_dtypes_promote():
    g = ta.make_graph(lambda a, b: ta.einsum("bij,bjk->bik", a, b))(np.ones((2, 3, 4)), np.ones((2, 4, 5)))
    assert "matmul" in str(g)
    out = ta.einsum("i,i", np.ones(3, np.float32), np.ones(3, np.float64))
    assert out.dtype == np.float64
    assert ta.einsum("i,i", [1.0, 2.0], [3.0, 4.0]).item() == 11.0
    assert ta.einsum("ij,jk", [ta.tensor(np.eye(2)), ta.tensor(np.eye(2))]).shape == (2, 2)


@pytest.mark.parametrize("subscripts,shapes,message", [
    ("ij,jk->ik", [(2, 3)], "1 subscripts for 1 operands|2 subscripts for 1 operands"),
    ("ij,jk->ik", [(2, 3), (4, 5)], "index 'j' has sizes 3 and 4"),
    ("ij->k", [(2, 3)], "output index 'k' appears in no operand"),
    ("ijk", [(2, 3)], "operand 0 has 2 dims but subscript 'ijk' names 3"),
    ("i1", [(2, 3)], "invalid subscript character '1'"),
    ("ij->ii", [(2, 3)], "repeats an index"),
    ("ii", [(2, 3)], "index .i. has sizes 2 and 3"),
])
def test_einsum_errors_name_the_problem(subscripts, shapes, message):
    with pytest.raises(OpError, match=f"einsum: .*({message})"):
        ta.einsum(subscripts, *(np.ones(s) for s in shapes))


# -- gather / scatter conventions and errors ---------------------------------------------------------
def test_gather_scatter_errors_name_the_op():
    x = ta.tensor(np.zeros((3, 4)))
    with pytest.raises(OpError, match="gather: index has 1 dims but the input has 2"):
        ta.gather(x, 0, np.array([0, 1]))
    with pytest.raises(OpError, match="gather: index size 4 exceeds the input's size 3 in dim 0"):
        x.gather(1, np.zeros((4, 2), np.int64))
    with pytest.raises(OpError, match="gather: index must be an integer tensor"):
        x.gather(0, np.zeros((1, 4)))
    with pytest.raises(OpError, match="scatter: pass exactly one of src and value="):
        x.scatter(0, np.zeros((1, 4), np.int64))
    with pytest.raises(OpError, match="scatter_reduce: reduce must be one of"):
        x.scatter_reduce(0, np.zeros((1, 4), np.int64), np.ones((1, 4)), "max")
    with pytest.raises(IndexError, match="gather: index -1 is out of bounds for dimension 0 with size 3"):
        x.gather(0, np.array([[0, -1, 0, 0]]))  # NumPy would wrap it; torch refuses
    with pytest.raises(IndexError, match="scatter: index 4 is out of bounds for dimension 1 with size 4"):
        x.scatter(1, np.array([[4]]), value=1.0)
    with pytest.raises(IndexError, match="index_select: index -2 is out of bounds"):
        x.index_select(0, ta.tensor(np.array([0, -2])))
    with pytest.raises(OpError, match="masked_fill: mask must be bool"):
        x.masked_fill(np.ones(4), 1.0)


def test_scatter_reduce_include_self_and_untouched_positions():
    x = ta.tensor(np.array([1.0, 2.0, 3.0]))
    idx, src = np.array([0, 0, 2]), ta.tensor(np.array([5.0, 7.0, -1.0]))
    np.testing.assert_array_equal(x.scatter_reduce(0, idx, src, "amax").numpy(), [7, 2, 3])
    np.testing.assert_array_equal(x.scatter_reduce(0, idx, src, "amin", include_self=False).numpy(),
                                  [5, 2, -1])
    np.testing.assert_array_equal(x.scatter_reduce(0, idx, src, "mean").numpy(), [13 / 3, 2, 1])
    np.testing.assert_array_equal(x.scatter_reduce(0, idx, src, "sum", include_self=False).numpy(),
                                  [12, 2, -1])
    ints = ta.tensor(np.array([1, 2, 3]))
    np.testing.assert_array_equal(ints.scatter_reduce(0, idx, np.array([4, 9, 0]), "amax",
                                                      include_self=False).numpy(), [9, 2, 0])


# -- vmap: the composites batch through their primitives' rules -----------------------------------------
VMAP = [
    ("pad reflect", lambda x: ta.pad(x, (2, 1), mode="reflect"),
     lambda x: np.pad(x, ((0, 0), (2, 1)), mode="reflect")),
    ("gather", lambda x: x.gather(1, np.array([[2, 0], [1, 1]])),
     lambda x: np.take_along_axis(x, np.array([[2, 0], [1, 1]]), 1)),
    ("roll tril", lambda x: ta.tril(ta.roll(x, 1, 1)), lambda x: np.tril(np.roll(x, 1, 1))),
    ("einsum", lambda x: ta.einsum("ij,kj->ik", x, x), lambda x: x @ x.T),
    ("scatter_add", lambda x: ta.scatter_add(x, 1, np.array([[0, 0, 1], [2, 2, 2]]), x),
     lambda x: x + np.stack([np.bincount([0, 0, 1], x[0], 3), np.bincount([2, 2, 2], x[1], 3)])),
]


@pytest.mark.parametrize("name,fn,ref", VMAP, ids=[v[0] for v in VMAP])
def test_vmap_of_composites_matches_a_loop(name, fn, ref):
    xs = RNG.standard_normal((4, 2, 3))
    got = np.asarray(ta.vmap(fn)(xs))
    np.testing.assert_allclose(got, np.stack([ref(x) for x in xs]), rtol=1e-12, err_msg=name)


# -- x[rows]'s gradient: repeated rows add up ------------------------------------------------
ROW_PICKS = [((5, 3), (7,)), ((5,), (4, 3)), ((4, 2, 3), (2, 5)), ((1, 4), (6,)), ((5, 3), ()),
             ((3, 0), (4,)), ((3, 2), (0,))]


def _rows_loss(table, rows, w):
    return ta.sum(table[rows] * w)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", ROW_PICKS, ids=str)
def test_row_pick_gradient_matches_add_at_bit_for_bit(mode, dtype, shapes):
    """An embedding's gradient (scatter_add of whole rows, negative and repeated rows
    included) equals np.add.at's, which adds in index order, bit for bit."""
    shape, pick = shapes
    table = RNG.standard_normal(shape).astype(dtype)
    rows = RNG.integers(-shape[0], shape[0], pick)
    w = RNG.standard_normal(rows.shape + shape[1:]).astype(dtype)
    _, (grad,) = run_value_and_grad(mode, _rows_loss, (0,), ta.tensor(table), rows, ta.tensor(w))
    expected = np.zeros(shape, dtype)
    np.add.at(expected, (rows,), w)
    assert grad.dtype == dtype and np.array_equal(grad.numpy(), expected)


def test_row_scatter_out_of_range_raises():
    scatter_add = ta.ops.PRIMS["scatter_add"]
    for bad in ([0, 4], [0, -5]):
        with pytest.raises(IndexError, match="out of bounds"):
            scatter_add.apply([np.ones((2, 3)), np.array(bad)], {"index": (("a", 0),), "shape": (4, 3)})
