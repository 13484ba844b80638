"""einsum, tensordot, outer, dot, vdot, inner: contractions lowered to matmul.

`einsum` parses the subscripts (ellipsis, implicit output, repeated indices
on one operand) and lowers them to ordinary ops, so BLAS does the work and
autodiff, compile and vmap need nothing new:

  repeated index on one operand (`ii`)  a diagonal: getitem with one arange
                                         array per repeated axis
  index on one operand only, not kept   summed at once
  two operands                           both transposed to (batch, free,
                                         contracted), reshaped to 3-d, one
                                         batched matmul; with nothing to
                                         contract, a broadcast multiply
  the result                             summed / transposed to the output

Operands are contracted left to right, as `np.einsum(optimize=False)`.
"""
from __future__ import annotations

import numpy as np

from . import basic_functions as F
from . import lax
from .errors import op_error
from .tensor import Tensor

__all__ = ["einsum", "tensordot", "outer", "dot", "vdot", "inner", "mm", "bmm", "mv", "addmm",
           "baddbmm", "kron", "cross", "vecdot"]
# torch.linalg's names here too, so `ta.linalg.norm(...)` reads as torch's:
from .norms import matrix_norm, norm, vector_norm  # noqa: E402,F401

_ELLIPSIS = "."  # internal labels of ellipsis dims: ".0", ".1", ... (rightmost last)


def _split_labels(term: str, ndim: int, n_ellipsis: int, op: int) -> list[str]:
    if term.count("...") > 1 or term.replace("...", "").count("."):
        raise op_error("einsum", f"bad subscript {term!r}")
    letters = [c for c in term.replace("...", "") if c != " "]
    for c in letters:
        if not c.isalpha():
            raise op_error("einsum", f"invalid subscript character {c!r}")
    if "..." not in term:
        if len(letters) != ndim:
            raise op_error("einsum", f"operand {op} has {ndim} dims but subscript {term!r} "
                           f"names {len(letters)}")
        return letters
    k = ndim - len(letters)
    if k < 0:
        raise op_error("einsum", f"operand {op} has {ndim} dims, fewer than {term!r} names")
    head, tail = term.split("...")
    ell = [f"{_ELLIPSIS}{n_ellipsis - k + j}" for j in range(k)]
    return [c for c in head if c != " "] + ell + [c for c in tail if c != " "]


def _parse(subscripts: str, operands: list[Tensor]) -> tuple[list[list[str]], list[str]]:
    subscripts = subscripts.replace(" ", "")
    lhs, arrow, rhs = subscripts.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise op_error("einsum", f"{len(terms)} subscripts for {len(operands)} operands", *operands)
    n_ell = max((t.ndim - len(term.replace("...", "")) for t, term in zip(operands, terms)
                 if "..." in term), default=0)
    labels = [_split_labels(term, t.ndim, n_ell, i) for i, (term, t) in
              enumerate(zip(terms, operands))]
    ell = [f"{_ELLIPSIS}{j}" for j in range(n_ell)]
    if arrow:
        if "..." not in rhs and rhs.replace("...", "").count("."):
            raise op_error("einsum", f"bad output subscript {rhs!r}")
        head, _, tail = rhs.partition("...")
        out = list(head) + (ell if "..." in rhs else []) + list(tail)
        if any(not c.isalpha() for c in head + tail):
            raise op_error("einsum", f"invalid output subscript {rhs!r}")
        if len(set(out)) != len(out):
            raise op_error("einsum", f"output subscript {rhs!r} repeats an index")
        known = {c for ls in labels for c in ls}
        for c in out:
            if c not in known and not c.startswith(_ELLIPSIS):
                raise op_error("einsum", f"output index {c!r} appears in no operand")
    else:  # implicit: ellipsis dims, then the letters used once, sorted
        counts: dict[str, int] = {}
        for ls in labels:
            for c in ls:
                counts[c] = counts.get(c, 0) + 1
        out = ell + sorted(c for c, k in counts.items() if k == 1 and not c.startswith(_ELLIPSIS))
    return labels, [c for c in out if not c.startswith(_ELLIPSIS) or c in
                    {l for ls in labels for l in ls}]


def _diagonals(x: Tensor, labels: list[str]) -> tuple[Tensor, list[str]]:
    """Repeated labels on one operand become one axis holding the diagonal."""
    while len(set(labels)) != len(labels):
        c = next(c for c in labels if labels.count(c) > 1)
        where = [i for i, l in enumerate(labels) if l == c]
        sizes = {x.shape[i] for i in where}
        if len(sizes) > 1:
            raise op_error("einsum", f"index {c!r} repeats on dims of different sizes {sorted(sizes)}", x)
        rest = [i for i in range(x.ndim) if i not in where]
        x = F.transpose(x, tuple(where + rest))
        diag = np.arange(x.shape[0])
        x = F.getitem(x, (diag,) * len(where))  # the advanced axis comes first
        labels = [c] + [labels[i] for i in rest]
    return x, labels


def _sum_labels(x: Tensor, labels: list[str], drop: set) -> tuple[Tensor, list[str]]:
    axes = tuple(i for i, c in enumerate(labels) if c in drop)
    if not axes:
        return x, labels
    return F.sum(x, axis=axes), [c for c in labels if c not in drop]


def _size(sizes: dict, c: str, n: int, *operands) -> None:
    """Record index c's size; ellipsis dims broadcast (1 against n), letters must agree."""
    old = sizes.get(c)
    if old is None or old == n:
        sizes[c] = n
    elif c.startswith(_ELLIPSIS) and 1 in (old, n):
        sizes[c] = max(old, n)
    else:
        raise op_error("einsum", f"index {c!r} has sizes {old} and {n}", *operands)


def _arrange(x: Tensor, labels: list[str], order: list[str], sizes: dict) -> Tensor:
    """x transposed to `order` (a subset-free permutation of labels), size-1 dims broadcast."""
    x = F.transpose(x, tuple(labels.index(c) for c in order))
    target = tuple(sizes[c] for c in order)
    return F.broadcast_to(x, target) if x.shape != target else x


def _contract(a, la, b, lb, keep: set, sizes: dict) -> tuple[Tensor, list[str]]:
    batch = [c for c in la if c in lb and c in keep]
    summed = [c for c in la if c in lb and c not in keep]
    free_a = [c for c in la if c not in lb]
    free_b = [c for c in lb if c not in la]
    if not summed:  # an outer / elementwise product: broadcasting, no BLAS call needed
        a2 = _arrange(a, la, batch + free_a, sizes)
        b2 = _arrange(b, lb, batch + free_b, sizes)
        a2 = F.reshape(a2, a2.shape + (1,) * len(free_b))
        b2 = F.reshape(b2, b2.shape[:len(batch)] + (1,) * len(free_a) + b2.shape[len(batch):])
        return a2 * b2, batch + free_a + free_b
    dims = {c: sizes[c] for c in batch + summed + free_a + free_b}
    count = lambda cs: int(np.prod([dims[c] for c in cs], dtype=np.int64))  # noqa: E731
    a3 = F.reshape(_arrange(a, la, batch + free_a + summed, sizes),
                   (count(batch), count(free_a), count(summed)))
    b3 = F.reshape(_arrange(b, lb, batch + summed + free_b, sizes),
                   (count(batch), count(summed), count(free_b)))
    out = F.reshape(F.matmul(a3, b3), tuple(dims[c] for c in batch + free_a + free_b))
    return out, batch + free_a + free_b


def einsum(subscripts: str, *operands) -> Tensor:
    """np.einsum / torch.einsum: `ta.einsum("bij,bjk->bik", a, b)`, with `...` and implicit output.

    Lowered to transposes, reshapes and batched matmuls (see the module
    docstring), contracting left to right.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])  # torch.einsum(eq, [a, b])
    if not operands:
        raise op_error("einsum", "needs at least one operand")
    ts = [F._lift(t) for t in operands]
    labels, out = _parse(subscripts, ts)
    sizes: dict[str, int] = {}
    for t, ls in zip(ts, labels):
        for c, n in zip(ls, t.shape):
            _size(sizes, c, n, *ts)
    terms = [_diagonals(t, list(ls)) for t, ls in zip(ts, labels)]
    acc, la = None, None
    for k, (t, ls) in enumerate(terms):
        later = set(out) | {c for _, l in terms[k + 1:] for c in l}
        seen_before = set(la) if la is not None else set()
        t, ls = _sum_labels(t, ls, {c for c in ls if c not in later and c not in seen_before})
        if acc is None:
            acc, la = t, ls
            continue
        acc, la = _sum_labels(acc, la, {c for c in la if c not in later and c not in ls})
        acc, la = _contract(acc, la, t, ls, later, sizes)
    acc, la = _sum_labels(acc, la, {c for c in la if c not in out})
    result = _arrange(acc, la, out, sizes)
    dtype = np.result_type(*(t.dtype for t in ts))
    return F.cast(result, dtype) if result.dtype != dtype else result


def _tensordot_axes(a: Tensor, b: Tensor, axes, op: str = "tensordot") -> tuple[list[int], list[int]]:
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise op_error(op, f"axes={n} does not fit shapes {a.shape} and {b.shape}", a, b)
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    try:
        xa, xb = axes
    except (TypeError, ValueError):
        raise op_error(op, f"axes must be an int or a pair of axis lists, got {axes!r}",
                       a, b) from None
    xa = [xa] if isinstance(xa, (int, np.integer)) else list(xa)
    xb = [xb] if isinstance(xb, (int, np.integer)) else list(xb)
    if len(xa) != len(xb):
        raise op_error(op, f"{len(xa)} axes of a for {len(xb)} axes of b", a, b)
    xa = [F.normalize_axes(op, i, a.ndim, a)[0] for i in xa]
    xb = [F.normalize_axes(op, i, b.ndim, b)[0] for i in xb]
    for i, j in zip(xa, xb):
        if a.shape[i] != b.shape[j]:
            raise op_error(op, f"axis {i} of a ({a.shape[i]}) and axis {j} of b "
                           f"({b.shape[j]}) differ", a, b)
    return xa, xb


def tensordot(a, b, axes=2, *, dims=None) -> Tensor:
    """np.tensordot / torch.tensordot: sum over `axes` (torch: `dims`): an int n pairs
    a's last n axes with b's first n; two lists pair the listed axes."""
    return _tensordot(a, b, axes if dims is None else dims, "tensordot")


def _tensordot(a, b, axes, op: str) -> Tensor:
    a, b = F._pair(a, b)
    xa, xb = _tensordot_axes(a, b, axes, op)
    free_a = [i for i in range(a.ndim) if i not in xa]
    free_b = [i for i in range(b.ndim) if i not in xb]
    m = int(np.prod([a.shape[i] for i in free_a], dtype=np.int64))
    n = int(np.prod([b.shape[i] for i in free_b], dtype=np.int64))
    k = int(np.prod([a.shape[i] for i in xa], dtype=np.int64))
    a2 = F.reshape(F.transpose(a, tuple(free_a + xa)), (m, k))
    b2 = F.reshape(F.transpose(b, tuple(xb + free_b)), (k, n))
    shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return F.reshape(F.matmul(a2, b2), shape)


def outer(a, b) -> Tensor:
    """np.outer / torch.outer: `a[i] * b[j]` (inputs are flattened)."""
    a, b = F._pair(a, b)
    return F.reshape(a, (-1, 1)) * F.reshape(b, (1, -1))


def dot(a, b) -> Tensor:
    """np.dot: a product for 0-d inputs, matmul up to 2-d, else a sum over a's last and b's second-to-last axis."""
    a, b = F._pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim == 1 or (a.ndim <= 2 and b.ndim <= 2) or a.ndim == 1:
        return F.matmul(a, b)
    return _tensordot(a, b, ([a.ndim - 1], [b.ndim - 2]), "dot")


def vdot(a, b) -> Tensor:
    """np.vdot / torch.vdot for real inputs: the dot product of the flattened tensors."""
    a, b = F._pair(a, b)
    if a.size != b.size:
        raise op_error("vdot", f"sizes differ ({a.size} vs {b.size})", a, b)
    return F.matmul(F.reshape(a, -1), F.reshape(b, -1))


def inner(a, b) -> Tensor:
    """np.inner / torch.inner: a sum over the last axes of both (a product for 0-d inputs)."""
    a, b = F._pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return _tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]), "inner")


def _ndim(op: str, want: int, *xs: Tensor) -> None:
    for x in xs:
        if x.ndim != want:
            raise op_error(op, f"expects {want}-d inputs, got shapes "
                           f"{[t.shape for t in xs]}", *xs)


def mm(a, b) -> Tensor:
    """torch.mm: the product of two matrices (2-d only)."""
    a, b = F._pair(a, b)
    _ndim("mm", 2, a, b)
    return F.matmul(a, b)


def bmm(a, b) -> Tensor:
    """torch.bmm: batched matrix products of (B, n, m) and (B, m, p)."""
    a, b = F._pair(a, b)
    _ndim("bmm", 3, a, b)
    return F.matmul(a, b)


def mv(a, v) -> Tensor:
    """torch.mv: a matrix times a vector."""
    a, v = F._pair(a, v)
    if a.ndim != 2 or v.ndim != 1:
        raise op_error("mv", f"expects a matrix and a vector, got {a.shape} and {v.shape}", a, v)
    return F.matmul(a, v)


def addmm(input, a, b, *, beta=1, alpha=1) -> Tensor:
    """torch.addmm: beta * input + alpha * (a @ b)."""
    return beta * F._lift(input) + alpha * mm(a, b)


def baddbmm(input, a, b, *, beta=1, alpha=1) -> Tensor:
    """torch.baddbmm: beta * input + alpha * bmm(a, b)."""
    return beta * F._lift(input) + alpha * bmm(a, b)


def kron(a, b) -> Tensor:
    """np.kron / torch.kron: the Kronecker product (a broadcast multiply, reshaped)."""
    a, b = F._pair(a, b)
    nd = max(a.ndim, b.ndim)
    a = F.reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = F.reshape(b, (1,) * (nd - b.ndim) + b.shape)
    ia = tuple(d for n in a.shape for d in (n, 1))
    ib = tuple(d for n in b.shape for d in (1, n))
    out = F.reshape(a, ia) * F.reshape(b, ib)
    return F.reshape(out, tuple(p * q for p, q in zip(a.shape, b.shape)))


def cross(a, b, dim=None) -> Tensor:
    """torch.cross / np.cross of 3-vectors along `dim` (default: the first axis of size 3)."""
    a, b = F._pair(a, b)
    shape = np.broadcast_shapes(a.shape, b.shape)
    if dim is None:
        dims = [i for i, n in enumerate(shape) if n == 3]
        if not dims:
            raise op_error("cross", f"no axis of size 3 in shape {shape}", a, b)
        dim = dims[0]
    dim = dim % len(shape)
    if shape[dim] != 3:
        raise op_error("cross", f"axis {dim} has size {shape[dim]}, not 3", a, b)
    a, b = F.broadcast_to(a, shape), F.broadcast_to(b, shape)
    lead = (slice(None),) * dim
    pick = lambda t, i: F.getitem(t, lead + (slice(i, i + 1),))  # noqa: E731
    parts = [pick(a, (i + 1) % 3) * pick(b, (i + 2) % 3) - pick(a, (i + 2) % 3) * pick(b, (i + 1) % 3)
             for i in range(3)]
    return F.concatenate(parts, axis=dim)


def vecdot(a, b, *, dim: int = -1) -> Tensor:
    """torch.linalg.vecdot for real inputs: the sum of a * b along `dim`."""
    a, b = F._pair(a, b)
    return F.sum(a * b, dim)


def svdvals(x) -> Tensor:
    """torch.linalg.svdvals: the singular values over the last two axes, descending."""
    x = F._lift(x)
    return lax.svdvals(x if x.dtype.kind == "f" else F.cast(x, np.float64))
