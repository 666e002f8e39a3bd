"""Loss modules: ``loss_fn = MSELoss(); loss = loss_fn(prediction, target)``.

Each is a thin wrapper storing ``reduction`` ("mean", "sum" or "none") and
calling the matching function of ``gs.nn.functional``.
"""

from __future__ import annotations

from gradsight._core.tensor import Tensor

from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        F._check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """mean((input - target)^2) (or sum / none)."""

    def forward(self, input, target) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1]; logs clamped at -100."""

    def forward(self, input, target) -> Tensor:
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(logits), fused and stable for any logit."""

    def forward(self, input, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) against integer classes (N,) or class
    probabilities (N, C); ``ignore_index`` and ``label_smoothing`` as PyTorch."""

    def __init__(
        self, reduction: str = "mean", *, ignore_index: int = -100, label_smoothing: float = 0.0
    ):
        super().__init__(reduction)
        self.ignore_index = F._check_ignore_index(ignore_index, "CrossEntropyLoss")
        self.label_smoothing = F._check_label_smoothing(label_smoothing, "CrossEntropyLoss")

    def forward(self, input, target) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        out = super().extra_repr()
        if self.ignore_index != -100:
            out += f", ignore_index={self.ignore_index}"
        if self.label_smoothing:
            out += f", label_smoothing={self.label_smoothing}"
        return out


class NLLLoss(_Loss):
    """-log_probs[n, t_n] for log-probabilities (N, C) and integer classes (N,)."""

    def __init__(self, reduction: str = "mean", *, ignore_index: int = -100):
        super().__init__(reduction)
        self.ignore_index = F._check_ignore_index(ignore_index, "NLLLoss")

    def forward(self, input, target) -> Tensor:
        return F.nll_loss(input, target, self.ignore_index, self.reduction)

    def extra_repr(self) -> str:
        out = super().extra_repr()
        if self.ignore_index != -100:
            out += f", ignore_index={self.ignore_index}"
        return out
