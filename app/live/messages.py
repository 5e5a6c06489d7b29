"""Every message a run publishes: the builders live in `trainer.reporting.messages`, so that
a run trained outside the server (`trainer.DashboardCallback`) emits the very same shapes.
This module is the service's name for them."""

from trainer.reporting.messages import *  # noqa: F403
from trainer.reporting.messages import __all__ as __all__
