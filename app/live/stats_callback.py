"""WebSocketStatsCallback: a fit's stats as messages. It lives in `trainer.reporting.stats`,
so a run trained outside the server (`trainer.DashboardCallback`) reports with the same
callback; this module is the service's name for it."""

from trainer.reporting.stats import *  # noqa: F403
from trainer.reporting.stats import __all__ as __all__
