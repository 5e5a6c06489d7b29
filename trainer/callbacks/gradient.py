"""`GradientClip`: clip the gradient norm before each optimizer step."""

from __future__ import annotations

from torch.nn.utils import clip_grad_norm_

from ..callback import Callback

__all__ = ["GradientClip"]


class GradientClip(Callback):
    """Scale gradients so their global L2 norm is at most `max_norm` (after unscaling AMP)."""

    def __init__(self, max_norm: float) -> None:
        if not max_norm > 0:
            raise ValueError(f"GradientClip needs max_norm > 0, got {max_norm}")
        self.max_norm = max_norm

    def after_backward(self) -> None:
        run = self.run
        if run.grad_scaler is not None:
            run.grad_scaler.unscale_(run.opt)
        clip_grad_norm_(run.model.parameters(), self.max_norm)
