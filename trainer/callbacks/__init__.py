"""The callbacks users expect, one module per family."""

from . import (
    checkpointing,
    gradient,
    lr_find,
    monitor,
    precision,
    progress,
    recorder,
    schedule,
    stopping,
)
from .checkpointing import *
from .gradient import *
from .lr_find import *
from .monitor import *
from .precision import *
from .progress import *
from .recorder import *
from .schedule import *
from .stopping import *

__all__ = [
    *checkpointing.__all__,
    *gradient.__all__,
    *lr_find.__all__,
    *monitor.__all__,
    *precision.__all__,
    *progress.__all__,
    *recorder.__all__,
    *schedule.__all__,
    *stopping.__all__,
]
