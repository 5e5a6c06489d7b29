"""`MixedPrecision`: autocast the forward pass; fp16 with a GradScaler on CUDA, bf16 on CPU."""

from __future__ import annotations

from typing import Any

import torch

from ..callback import Callback

__all__ = ["MixedPrecision"]


class MixedPrecision(Callback):
    """Run forward and loss under `torch.autocast`.

    On CUDA the default is float16 with a `GradScaler` (the runner scales the backward pass
    and steps through it); on CPU it is bfloat16, which needs no scaling.
    """

    _order = 10

    def __init__(self, dtype: torch.dtype | None = None) -> None:
        self.dtype = dtype
        self._autocast: Any = None

    def begin_fit(self) -> None:
        device = next(self.run.model.parameters()).device.type
        self.device_type = device
        dtype = self.dtype or (torch.float16 if device == "cuda" else torch.bfloat16)
        self.active_dtype = dtype
        if dtype == torch.float16:
            self.run.grad_scaler = torch.amp.GradScaler(device)

    def begin_batch(self) -> None:
        self._autocast = torch.autocast(self.device_type, dtype=self.active_dtype)
        self._autocast.__enter__()

    def after_loss(self) -> None:
        self._exit()

    def after_cancel_batch(self) -> None:
        self._exit()

    def _exit(self) -> None:
        if self._autocast is not None:
            self._autocast.__exit__(None, None, None)
            self._autocast = None

    def after_fit(self) -> None:
        self._exit()
        self.run.grad_scaler = None

    def state_dict(self) -> dict[str, Any]:
        scaler = self.run.grad_scaler if hasattr(self, "run") else None
        return {"scaler": scaler.state_dict() if scaler is not None else {}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["scaler"] and self.run.grad_scaler is not None:
            self.run.grad_scaler.load_state_dict(state["scaler"])
