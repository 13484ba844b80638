"""Loss functions (torch.nn.functional names, arguments and defaults).

Every loss takes `reduction=` 'mean' (default), 'sum' or 'none'. Written
over tracead ops, so a loss traces and compiles with the rest of the step.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..errors import op_error
from ..tensor import Tensor, as_tensor

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "one_hot", "kl_div",
           "margin_ranking_loss", "soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(op: str, loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return F.mean(loss)
    if reduction == "sum":
        return F.sum(loss)
    if reduction == "none":
        return loss
    raise op_error(op, f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _same_shape(op: str, pred, target) -> tuple[Tensor, Tensor]:
    pred, target = as_tensor(pred, op=op), as_tensor(target, op=op)
    if pred.shape != target.shape:
        # torch warns and broadcasts; a (n, 1) vs (n,) mix-up silently gives an n x n loss.
        raise op_error(op, f"input shape {pred.shape} and target shape {target.shape} differ",
                       pred, target)
    return pred, target


def _like(weight, x: Tensor) -> Tensor:
    """A weight tensor in x's dtype (torch requires one dtype; NumPy would promote the loss)."""
    w = as_tensor(weight)
    return w if w.dtype == x.dtype else F.cast(w, x.dtype)


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """(input - target)**2, reduced."""
    input, target = _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce("mse_loss", diff * diff, reduction)


def l1_loss(input, target, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    input, target = _same_shape("l1_loss", input, target)
    return _reduce("l1_loss", F.abs(input - target), reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (torch's smooth_l1_loss)."""
    input, target = _same_shape("smooth_l1_loss", input, target)
    d = F.abs(input - target)
    if beta == 0:
        return _reduce("smooth_l1_loss", d, reduction)
    return _reduce("smooth_l1_loss", F.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d**2 where |d| <= delta, else delta (|d| - 0.5 delta)."""
    input, target = _same_shape("huber_loss", input, target)
    d = F.abs(input - target)
    return _reduce("huber_loss", F.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p; logs clamped at -100 as torch."""
    p, t = _same_shape("binary_cross_entropy", input, target)
    log_p = F.maximum(F.log(p), -100.0)
    log_q = F.maximum(F.log(1.0 - p), -100.0)
    loss = -(t * log_p + (1.0 - t) * log_q)
    if weight is not None:
        loss = loss * _like(weight, p)
    return _reduce("binary_cross_entropy", loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """binary_cross_entropy(sigmoid(x), t), computed stably from the logits x."""
    x, t = _same_shape("binary_cross_entropy_with_logits", input, target)
    # log(1 + exp(-|x|)) + max(-x, 0) = -log sigmoid(x), without overflow.
    softplus_neg = F.log(1.0 + F.exp(-F.abs(x))) + F.maximum(-x, 0.0)
    if pos_weight is None:
        loss = (1.0 - t) * x + softplus_neg
    else:
        loss = (1.0 - t) * x + (1.0 + (_like(pos_weight, x) - 1.0) * t) * softplus_neg
    if weight is not None:
        loss = loss * _like(weight, x)
    return _reduce("binary_cross_entropy_with_logits", loss, reduction)


# -- class-index losses ---------------------------------------------------------------
def _int_labels(op: str, labels, shape: tuple, logits):
    """Labels as an integer NumPy array or integer Tensor of the given shape."""
    if not isinstance(labels, Tensor):
        labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise op_error(op, f"labels must be integers, got dtype {labels.dtype}", logits,
                       labels, type_error=True)
    if tuple(labels.shape) != shape:
        raise op_error(op, f"labels have shape {tuple(labels.shape)}, expected {shape}",
                       logits, labels)
    return labels


def _check_label_range(op: str, labels, n_classes: int, *avals, ignore_index=None) -> bool:
    """Every label in [0, n_classes) or == ignore_index, else a clear error (-1 would
    silently pick the last class). Returns whether any label is ignored.

    A label Tensor is checked with one bool ("any label out of range"; read
    as unsigned, a negative label is huge, so one fused reduction checks both
    ends); only when that is True, a second one tells ignored labels from bad
    ones. Inside `compile` each bool is a value guard: batches without
    ignored labels keep the lean graph, a bad batch re-traces and lands here.
    """
    if labels.size == 0:
        return False
    if isinstance(labels, Tensor):
        if labels._data is None:
            return ignore_index is not None  # an abstract trace (vmap) has no values to check
        outside = F.cast(labels, np.uint64) >= n_classes
        # An ignore_index inside [0, n_classes) is not "outside": look for it separately.
        some_ignored = (ignore_index is not None and 0 <= ignore_index < n_classes
                        and bool(F.max(F.eq(labels, ignore_index))))
        if not bool(F.max(outside)):
            return some_ignored
        if ignore_index is not None and not bool(
                F.max(F.where(F.eq(labels, ignore_index), False, outside))):
            return True
        labels = labels.numpy()
    bad = (labels < 0) | (labels >= n_classes)
    ignored = labels == ignore_index if ignore_index is not None else np.zeros(labels.shape, bool)
    bad = np.flatnonzero(bad & ~ignored)
    if bad.size:
        i = int(bad[0])
        raise op_error(op, f"label {labels.reshape(-1)[i]} at position {i} is out of range for "
                       f"{n_classes} classes (labels must be in [0, {n_classes}))", *avals,
                       index_error=True)
    return bool(ignored.any())


def _class_last(op: str, logits: Tensor) -> Tensor:
    """(N, C) as it is; (N, C, d1, ...) -> (N * d1 * ..., C) (torch's K-dim layout)."""
    if logits.ndim < 2:
        raise op_error(op, f"input must be (batch, classes[, d1, ...]), got shape {logits.shape}",
                       logits)
    if logits.ndim == 2:
        return logits
    perm = (0,) + tuple(range(2, logits.ndim)) + (1,)
    return F.reshape(F.transpose(logits, perm), (-1, logits.shape[1]))


def _picked(op: str, logp: Tensor, labels, shape: tuple, ignore_index: int):
    """(-logp[i, label_i] flat, valid mask or None, the picked labels) for integer labels."""
    n, classes = logp.shape
    labels = _int_labels(op, labels, shape, logp)
    some_ignored = _check_label_range(op, labels, classes, logp, labels, ignore_index=ignore_index)
    flat = F.reshape(labels, (n,)) if isinstance(labels, Tensor) else labels.reshape(n)
    valid = None
    if some_ignored:
        valid = F.ne(flat, ignore_index) if isinstance(flat, Tensor) else flat != ignore_index
        flat = F.where(valid, flat, 0) if isinstance(flat, Tensor) else np.where(valid, flat, 0)
    if isinstance(flat, Tensor):
        # Inside `compile` the range check is a value guard read after the
        # graph has run: clamping keeps that run in bounds so the guard (not a
        # bare IndexError from the gather) reports a bad batch.
        flat = F.clip(flat, 0, classes - 1)
    return -logp[np.arange(n), flat], valid, flat


def _class_weights(op: str, weight, classes: int, like: Tensor) -> Tensor | None:
    """torch's per-class `weight` (C,), in the input's dtype (torch requires the same)."""
    if weight is None:
        return None
    w = as_tensor(weight, op=op)
    if w.shape != (classes,):
        raise op_error(op, f"weight must have one entry per class, shape ({classes},), got "
                       f"{w.shape}", like, w)
    return w if w.dtype == like.dtype else F.cast(w, like.dtype)


def _no_legacy(op: str, size_average, reduce) -> None:
    if size_average is not None or reduce is not None:
        raise op_error(op, "size_average= and reduce= are deprecated in torch and not supported: "
                       "use reduction='mean' | 'sum' | 'none'", type_error=True)


def _masked_reduce(op: str, loss: Tensor, valid, reduction: str, out_shape: tuple,
                   row_weights: Tensor | None = None) -> Tensor:
    """Reduce per-row losses; ignored rows count 0. A weighted mean divides by the
    weights of the picked classes (torch's nll_loss), an unweighted one by the count."""
    if valid is not None:
        loss = F.where(valid, loss, F.zeros_like(loss))
    if reduction == "mean" and (valid is not None or row_weights is not None):
        if row_weights is not None:
            denom = row_weights if valid is None else F.where(valid, row_weights,
                                                              F.zeros_like(row_weights))
            return F.sum(loss) / F.sum(denom)  # all ignored: 0 / 0 = nan, as torch
        count = F.sum(F.cast(valid, loss.dtype)) if isinstance(valid, Tensor) else \
            np.asarray(valid.sum(), loss.dtype)
        return F.sum(loss) / count
    if reduction == "none":
        return F.reshape(loss, out_shape)
    return _reduce(op, loss, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """-weight[t_i] * input[i, t_i] for log-probabilities input (N, C[, d...]) and integer
    targets, as torch; the weighted mean divides by the sum of weight[t_i]."""
    _no_legacy("nll_loss", size_average, reduce)
    logp = as_tensor(input, op="nll_loss")
    flat = _class_last("nll_loss", logp)
    shape = (logp.shape[0],) + logp.shape[2:]
    nll, valid, picked = _picked("nll_loss", flat, target, shape, ignore_index)
    w = _class_weights("nll_loss", weight, flat.shape[1], flat)
    row_w = None if w is None else w[picked]
    return _masked_reduce("nll_loss", nll if w is None else nll * row_w, valid, reduction, shape,
                          row_w)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy, as torch.nn.functional.cross_entropy.

    input: logits (N, C) or (N, C, d1, ...). target: integer class indices
    (N[, d1, ...]) in [0, C) or equal to `ignore_index` (a clear error
    otherwise), or class probabilities of the input's shape. `weight` (C,)
    scales each class; with integer targets the mean divides by the total
    weight of the targets (ignored ones excluded), with probabilities by
    the row count, as torch. With `label_smoothing` e the target mixes
    with the uniform distribution: (1 - e) one_hot + e / C. Stable for
    large logits (log_softmax shifts by the row maximum).
    """
    _no_legacy("cross_entropy", size_average, reduce)
    logits = as_tensor(input, op="cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise op_error("cross_entropy", f"label_smoothing must be in [0, 1], got {label_smoothing}",
                       logits)
    flat = _class_last("cross_entropy", logits)
    classes = flat.shape[1]
    logp = F.log_softmax(flat, axis=-1)
    shape = (logits.shape[0],) + logits.shape[2:]
    w = _class_weights("cross_entropy", weight, classes, flat)
    weighted_logp = logp if w is None else logp * w
    if not isinstance(target, Tensor):
        target = np.asarray(target)
    if target.dtype.kind == "f" and target.ndim == logits.ndim:  # class probabilities
        target = as_tensor(target, op="cross_entropy")
        if target.shape != logits.shape:
            raise op_error("cross_entropy", f"probability targets must have the input's shape "
                           f"{logits.shape}, got {target.shape}", logits, target)
        probs = _class_last("cross_entropy", target)
        if label_smoothing:
            probs = probs * (1.0 - label_smoothing) + label_smoothing / classes
        loss = -F.sum(probs * weighted_logp, axis=-1)
        return _reduce("cross_entropy", F.reshape(loss, shape) if reduction == "none" else loss,
                       reduction)
    nll, valid, picked = _picked("cross_entropy", logp, target, shape, ignore_index)
    row_w = None if w is None else w[picked]
    loss = _masked_reduce("cross_entropy", nll if w is None else nll * row_w, valid, reduction,
                          shape, row_w)
    if not label_smoothing:
        return loss
    # torch: (1 - e) * nll + e / C * the (weighted) sum of -log p over the classes,
    # reduced like the nll (same mask, same denominator).
    smooth = _masked_reduce("cross_entropy", -F.sum(weighted_logp, axis=-1), valid, reduction,
                            shape, row_w)
    return (1.0 - label_smoothing) * loss + (label_smoothing / classes) * smooth


def one_hot(labels, num_classes: int = -1, dtype=np.int64) -> Tensor:
    """Integer labels of any shape -> labels.shape + (num_classes,) of 0/1, as torch's
    (int64 by default; num_classes=-1 means max(labels) + 1). No gradient."""
    labels = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise op_error("one_hot", f"labels must be integers, got dtype {labels.dtype}", labels,
                       type_error=True)
    num_classes = int(num_classes)
    if num_classes < 0:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    _check_label_range("one_hot", labels, num_classes, labels)
    return Tensor(np.eye(num_classes, dtype=dtype)[labels])


# -- more of torch's losses ---------------------------------------------------------------
def kl_div(input, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """target * (log target - input) for log-probabilities `input`; 'batchmean' divides the
    sum by the batch size (torch's 'mean' divides by the element count)."""
    input, target = _same_shape("kl_div", input, target)
    if log_target:
        loss = F.exp(target) * (target - input)
    else:
        safe = F.where(target > 0, target, F.ones_like(target))
        loss = F.where(target > 0, target * (F.log(safe) - input), F.zeros_like(input))
    if reduction == "batchmean":
        return F.sum(loss) / (input.shape[0] if input.ndim else 1)
    return _reduce("kl_div", loss, reduction)


def margin_ranking_loss(input1, input2, target, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin)."""
    x1, x2 = as_tensor(input1, op="margin_ranking_loss"), as_tensor(input2, op="margin_ranking_loss")
    return _reduce("margin_ranking_loss", F.relu(-_like(target, x1) * (x1 - x2) + margin), reduction)


def soft_margin_loss(input, target, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input))."""
    x, y = _same_shape("soft_margin_loss", input, target)
    return _reduce("soft_margin_loss", F.softplus(-y * x), reduction)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     eps: float = 1e-8, reduction: str = "mean") -> Tensor:
    """exp(input) - target * input (log_input), or input - target * log(input + eps)."""
    x, t = _same_shape("poisson_nll_loss", input, target)
    loss = F.exp(x) - t * x if log_input else x - t * F.log(x + eps)
    if full:  # Stirling's term where target > 1
        safe = F.where(t > 1, t, F.ones_like(t))
        stirling = safe * F.log(safe) - safe + 0.5 * F.log(2 * np.pi * safe)
        loss = loss + F.where(t > 1, stirling, F.zeros_like(t))
    return _reduce("poisson_nll_loss", loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log 2 pi if full)."""
    x, t = _same_shape("gaussian_nll_loss", input, target)
    v = F.maximum(_like(var, x), eps)
    loss = 0.5 * (F.log(v) + (x - t) * (x - t) / v)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return _reduce("gaussian_nll_loss", loss, reduction)
