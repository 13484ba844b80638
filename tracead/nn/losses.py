"""Loss modules: torch's classes around the functions of `loss.py`."""
from __future__ import annotations

from . import loss as L
from .module import Module


class _Loss(Module):
    fn = staticmethod(L.mse_loss)

    def __init__(self, reduction: str = "mean", **options) -> None:
        super().__init__()
        self.reduction, self.options = reduction, options

    def forward(self, input, target):
        return type(self).fn(input, target, reduction=self.reduction, **self.options)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    fn = staticmethod(L.mse_loss)


class L1Loss(_Loss):
    fn = staticmethod(L.l1_loss)


class SmoothL1Loss(_Loss):
    fn = staticmethod(L.smooth_l1_loss)

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction, beta=beta)


class HuberLoss(_Loss):
    fn = staticmethod(L.huber_loss)

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction, delta=delta)


class BCELoss(_Loss):
    fn = staticmethod(L.binary_cross_entropy)

    def __init__(self, weight=None, reduction: str = "mean") -> None:
        super().__init__(reduction, weight=weight)


class BCEWithLogitsLoss(_Loss):
    fn = staticmethod(L.binary_cross_entropy_with_logits)

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None) -> None:
        super().__init__(reduction, weight=weight, pos_weight=pos_weight)


class NLLLoss(_Loss):
    fn = staticmethod(L.nll_loss)

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        L._no_legacy("NLLLoss", size_average, reduce)
        super().__init__(reduction, weight=weight, ignore_index=ignore_index)


class CrossEntropyLoss(_Loss):
    fn = staticmethod(L.cross_entropy)

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        L._no_legacy("CrossEntropyLoss", size_average, reduce)
        super().__init__(reduction, weight=weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing)
