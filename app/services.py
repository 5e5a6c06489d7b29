"""The parts a process needs to train runs: database, event hub and run manager, wired once.

`fitboard serve` (the app's lifespan) and `fitboard run` (the terminal) both start them here,
so the two cannot drift apart in how runs are stored, numbered or shut down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app.catalog import callback_catalog, recipe_registry
from app.config import Settings
from app.db import Store, init_db, make_engine
from app.live.hub import EventHub
from app.runs import RunManager
from app.runs.backends import make_backend
from app.runs.backends.remote import RemoteBackend
from app.runs.external import ExternalRuns

__all__ = ["SHUTDOWN_TIMEOUT", "Services", "running_services"]

SHUTDOWN_TIMEOUT = 10.0  # seconds to wait for running runs to reach their next batch


@dataclass(frozen=True)
class Services:
    """The started parts: the store (all SQL), the hub (messages), the manager (runs) and the
    runs trained elsewhere that report here (`external`)."""

    store: Store
    hub: EventHub
    manager: RunManager
    external: ExternalRuns


@asynccontextmanager
async def running_services(settings: Settings) -> AsyncIterator[Services]:
    """Migrate the database, start the hub and the manager (recovering runs whose process is
    gone); on exit, stop running runs at their next batch (interrupted), save everything
    published, and close the database."""
    assert settings.database_url is not None  # Settings fills in the SQLite default
    engine = make_engine(settings.database_url)
    await asyncio.to_thread(init_db, engine)
    store = Store(engine)
    hub = EventHub(store.save_events)
    hub.start()
    backend = make_backend(settings, recipe_registry, callback_catalog)
    remote = RemoteBackend()
    manager = RunManager(
        settings, store, hub, recipe_registry, callback_catalog, backend, remote=remote
    )
    external = ExternalRuns(store, hub, remote, settings.heartbeat_timeout_s)
    await asyncio.to_thread(manager.start)
    await asyncio.to_thread(external.start)
    heartbeat = asyncio.create_task(external.watch(), name="external-heartbeat")
    try:
        yield Services(store, hub, manager, external)
    finally:
        heartbeat.cancel()
        await asyncio.to_thread(manager.shutdown, SHUTDOWN_TIMEOUT)
        await hub.close()  # everything published is saved before the process exits
        engine.dispose()
