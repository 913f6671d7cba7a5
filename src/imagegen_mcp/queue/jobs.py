"""What the queue stores about a job, and who may hold it.

- ids: ``j_`` / ``r_`` + 10 characters of milliseconds (sortable) + 16 random ones (80 bits from
  ``secrets``: a job id cannot be guessed from another one, or from a path);
- lease owners: ``host/pid/token``, so a reclaim can tell a live worker on this machine from a dead
  one (see :func:`owner_alive`);
- :class:`Job`: one row of the ``jobs`` table, JSON columns decoded (by :mod:`imagegen_mcp.queue.rows`).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    """``j_`` + 10 time characters (ms, sortable) + 16 random ones (unguessable):
    ``j_01jdz8k3xqv7m2ta9c4hw0nb5e8z``."""
    ms = int(time.time() * 1000)
    stamp = "".join(_CROCKFORD[(ms >> shift) & 31] for shift in range(45, -1, -5))
    rand = "".join(secrets.choice(_CROCKFORD) for _ in range(16))
    return f"{prefix}_{stamp}{rand}"


def make_owner() -> str:
    """A lease owner: ``host/pid/token``, unique per worker."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


def owner_alive(owner: str) -> bool:
    """False only when ``owner`` is a process on this host that no longer exists."""
    host, _, rest = owner.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or os.name == "nt":
        return True  # another host (or Windows, where kill(pid, 0) is not a probe): trust the lease
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but belongs to someone else
    return True


@dataclass
class NewJob:
    index: int
    target: str
    spec: dict[str, Any]


@dataclass
class Job:
    job_id: str
    request_id: str
    index: int
    status: str
    spec: dict[str, Any]
    target: str
    attempts: int
    max_attempts: int
    not_before: float
    lease_owner: str | None
    lease_expires: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    last_error: dict[str, Any] | None
    cost_usd: float | None
    lost_leases: int = 0
    cancel_requested: bool = False  # cancel_jobs asked the worker running it to stop

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    @property
    def counted_attempts(self) -> int:
        """Attempts that count against ``max_attempts``: runs that ended with an outcome, not ones a
        dead or stopped worker lost (those count against the lost-lease cap)."""
        return self.attempts - self.lost_leases
