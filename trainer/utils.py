"""Small helpers the notebook defines: `listify` and `camel2snake`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["camel2snake", "listify"]

_camel_re1 = re.compile("(.)([A-Z][a-z]+)")
_camel_re2 = re.compile("([a-z0-9])([A-Z])")


def camel2snake(name: str) -> str:
    """Turn `AvgStatsCallback` into `avg_stats_callback`."""
    s1 = re.sub(_camel_re1, r"\1_\2", name)
    return re.sub(_camel_re2, r"\1_\2", s1).lower()


def listify(o: Any) -> list:
    """Make a list of `o`: None is empty, a string or a single object becomes one item."""
    if o is None:
        return []
    if isinstance(o, list):
        return o
    if isinstance(o, str):
        return [o]
    if isinstance(o, Iterable):
        return list(o)
    return [o]
