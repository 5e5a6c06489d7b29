"""One-shot actions at a batch boundary, for whoever steers a fit from another thread: the
server's `RunExecution` and a client reporting to a dashboard (`DashboardCallback`)."""

from __future__ import annotations

from ..callback import Callback
from .messages import hyper_message
from .stats import Publish

__all__ = ["AtNextBoundary", "HyperEdit"]


class AtNextBoundary(Callback):
    """A one-shot action on the training thread: it joins the fit at the next batch
    boundary (`begin_fit` of a callback added mid-fit), acts once, and leaves."""

    def __init__(self, publish: Publish) -> None:
        self.publish = publish

    def begin_fit(self) -> None:
        self.act()
        self.run.remove_cbs([self])

    def act(self) -> None:
        raise NotImplementedError


class HyperEdit(AtNextBoundary):
    """Sets the hyperparameters at that boundary and says so in a `hyper` message."""

    def __init__(self, values: dict[str, float], publish: Publish) -> None:
        super().__init__(publish)
        self.values = values

    def act(self) -> None:
        group = self.run.opt.param_groups[0]
        applied = {k: v for k, v in self.values.items() if k in group}
        for name, value in applied.items():
            self.run.set_hyper(name, value)  # applied at this same boundary
        missing = sorted(set(self.values) - set(applied))
        self.publish(hyper_message(applied, missing, self.run.epoch, self.run.n_iter))
