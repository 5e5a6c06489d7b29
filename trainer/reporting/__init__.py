"""Reporting a fit to a fitboard dashboard: the messages a run emits (`messages`, built in
one place for the server and for clients), the callback that turns a fit's stats into them
(`stats`), and the client side of a run trained outside the server (`DashboardCallback`,
`DashboardRun`, `ReportClient`).

`from trainer import *` gives `DashboardCallback` and `DashboardRun`."""

from .dashboard import DashboardCallback, DashboardRun

__all__ = ["DashboardCallback", "DashboardRun"]
