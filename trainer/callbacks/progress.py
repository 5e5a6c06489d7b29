"""`ProgressCallback`: tqdm progress bars in a terminal, silence elsewhere."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm.auto import tqdm

from ..callback import Callback

__all__ = ["ProgressCallback"]


class ProgressCallback(Callback):
    """An epoch bar and a batch bar (with the running loss) while a fit runs.

    Quiet unless `file` (stdout by default) is a terminal; `enabled=True` forces the bars.
    """

    _order = 30

    def __init__(self, file: TextIO | None = None, enabled: bool | None = None) -> None:
        self.file, self.enabled = file, enabled
        self._epoch_bar: Any = None
        self._batch_bar: Any = None

    def _out(self) -> TextIO:
        return self.file if self.file is not None else sys.stdout

    def _active(self) -> bool:
        if self.enabled is not None:
            return self.enabled
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    def begin_fit(self) -> None:
        if self._active():
            self._epoch_bar = tqdm(total=self.run.epochs, desc="epoch", file=self._out())

    def begin_epoch(self) -> None:
        self._new_batch_bar("train", len(self.run.data.train_dl))

    def begin_validate(self) -> None:
        self._new_batch_bar("valid", len(self.run.data.valid_dl))

    def _new_batch_bar(self, desc: str, total: int) -> None:
        if self._epoch_bar is None:
            return
        if self._batch_bar is not None:
            self._batch_bar.close()
        self._batch_bar = tqdm(total=total, desc=desc, leave=False, file=self._out())

    def after_batch(self) -> None:
        bar = self._batch_bar
        if bar is None:
            return
        bar.update(1)
        if self.run.in_train and self.run.iter % 10 == 0:  # a float() per batch would sync
            bar.set_postfix(loss=f"{float(self.run.loss.detach()):.4f}", refresh=False)

    def after_epoch(self) -> None:
        if self._epoch_bar is not None:
            self._epoch_bar.update(1)

    def after_fit(self) -> None:
        for bar in (self._batch_bar, self._epoch_bar):
            if bar is not None:
                bar.close()
        self._batch_bar = self._epoch_bar = None
