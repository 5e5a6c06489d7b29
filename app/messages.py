"""Message shapes shared by the hub, the store and the manager."""

from __future__ import annotations

from typing import Any

__all__ = ["summary"]


def summary(message: dict[str, Any]) -> dict[str, Any]:
    """`message` without an epoch's `batches` curve: what run lists (`latest`, `WS /ws/runs`)
    carry, so a page of 50 runs does not ship 50 batch histories."""
    if "batches" not in message:
        return message
    return {key: value for key, value in message.items() if key != "batches"}
