"""trainer: the fast.ai notebook's callback training loop, grown into a small library.

`from trainer import *` gives the notebook's names (`Dataset`, `DataBunch`, `Learner`,
`Runner`, `Callback`, `AvgStatsCallback`, `accuracy`, ...), the callbacks users expect, and
`DashboardCallback` / `DashboardRun` to watch and steer a fit from a fitboard dashboard.
"""

from . import (
    callback,
    callbacks,
    checkpoint,
    data,
    datasets,
    device,
    events,
    learner,
    metrics,
    reporting,
    runner,
    utils,
)
from .callback import *
from .callbacks import *
from .checkpoint import *
from .data import *
from .datasets import *
from .device import *
from .events import *
from .learner import *
from .metrics import *
from .reporting import *
from .runner import *
from .utils import *

__all__ = [
    *callback.__all__,
    *callbacks.__all__,
    *checkpoint.__all__,
    *data.__all__,
    *datasets.__all__,
    *device.__all__,
    *events.__all__,
    *learner.__all__,
    *metrics.__all__,
    *reporting.__all__,
    *runner.__all__,
    *utils.__all__,
]
