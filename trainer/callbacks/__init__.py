"""The callbacks users expect, one module per family."""

from . import checkpointing, gradient, monitor, precision, progress, recorder, schedule, stopping
from .checkpointing import *
from .gradient import *
from .monitor import *
from .precision import *
from .progress import *
from .recorder import *
from .schedule import *
from .stopping import *

__all__ = [
    *checkpointing.__all__,
    *gradient.__all__,
    *monitor.__all__,
    *precision.__all__,
    *progress.__all__,
    *recorder.__all__,
    *schedule.__all__,
    *stopping.__all__,
]
