"""Which process owns an unfinished run, and whether that process is gone.

Each queued or running run records its owner, "<hostname>:<pid>". At start, the server and
`fitboard run` interrupt only the runs whose owner is gone, so two processes sharing one
database leave each other's runs alone.
"""

from __future__ import annotations

import os
import socket

from app.db import Store

__all__ = ["interrupt_orphans", "owner_is_gone", "this_process"]


def this_process() -> str:
    """This process as a run's owner: "<hostname>:<pid>"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(owner: str | None, me: str) -> bool:
    """Whether the process that owns an unfinished run can no longer be training it.

    - No owner (a row written before owners were recorded), or one that does not parse: gone.
    - Our own hostname and pid: gone, it is an earlier life of this process (a restarted
      container is pid 1 again); a manager never recovers after creating runs of its own.
    - Our hostname, another pid: gone only if no such process exists (`os.kill(pid, 0)`
      raises ProcessLookupError; a pid of another user's process counts as alive).
    - Another hostname: gone. Its process cannot be checked from here, and the documented
      deployment is one host (docker-compose runs a single app container), so a run owned
      elsewhere is one that a previous host or container left behind.
    """
    if owner is None or owner == me:
        return True
    host, _, pid_text = owner.rpartition(":")
    my_host = me.rpartition(":")[0]
    if not pid_text.isdigit() or int(pid_text) <= 0 or host != my_host:
        return True
    try:
        os.kill(int(pid_text), 0)
    except (ProcessLookupError, OverflowError):
        return True
    except PermissionError:
        return False
    return False


def interrupt_orphans(store: Store, me: str) -> list[str]:
    """Mark queued or running runs whose owner is gone as interrupted; their ids.

    The one place that decides, for the server and `fitboard run` alike: runs owned by a
    live process (another server, a terminal run) are left alone. `me` is the caller's
    `this_process()`.
    """
    return [
        run_id
        for run_id, owner in store.unfinished_owners()
        if owner_is_gone(owner, me) and store.interrupt(run_id, owner)
    ]
