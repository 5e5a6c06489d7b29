"""The one batch-loss downsampler, shared with runs trained outside the server: it lives in
`trainer.reporting.downsample`; this module is the service's name for it."""

from trainer.reporting.downsample import *  # noqa: F403
from trainer.reporting.downsample import __all__ as __all__
