"""Provider health: consecutive fallback-class failures and cool-downs, seen by every process.

Two failures in a row that would make the router fall back (rate limit after retries, 5xx, timeout,
network, 402, a rejected key, an unavailable model) put a provider in a cool-down of
``IMAGEGEN_COOLDOWN_S`` seconds: ``auto`` chains skip it meanwhile (it is used last, only when
nothing else is left), and preflight shows it. A success clears the count.

The state is shared through the job store, so every worker and server process on this machine sees
it: here a small SQLite file beside the queue database (``<queue dir>/provider-health.sqlite3``). It
is created on the first failure, not before; reading it when it does not exist costs one ``stat``.
The team shape keeps the same table in PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FAILURES_TO_COOL_DOWN = 2
FILENAME = "provider-health.sqlite3"


@dataclass(frozen=True)
class HealthState:
    failures: int
    cooldown_until: float | None  # epoch seconds

    def cooling(self, now: float) -> bool:
        return self.cooldown_until is not None and self.cooldown_until > now


class Health:
    def __init__(self, directory: Path | None, cooldown_s: float, clock: Callable[[], float] = time.time) -> None:
        self.path = directory / FILENAME if directory is not None else None
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._memory: dict[str, HealthState] = {}  # used when there is no directory, or it cannot be written

    # -------------------------------------------------------------- queries

    def state(self, name: str) -> HealthState:
        with self._lock:
            db = self._open(create=False)
            if db is None:
                return self._memory.get(name, HealthState(0, None))
            row = db.execute("SELECT failures, cooldown_until FROM health WHERE provider = ?", (name,)).fetchone()
            return HealthState(int(row[0]), row[1]) if row else HealthState(0, None)

    def cooling_down(self, name: str) -> bool:
        return self.state(name).cooling(self._clock())

    def seconds_left(self, name: str) -> float:
        until = self.state(name).cooldown_until
        return max(0.0, until - self._clock()) if until is not None else 0.0

    # -------------------------------------------------------------- updates

    def failed(self, name: str) -> None:
        now = self._clock()
        with self._lock:
            db = self._open(create=True)
            if db is None:
                old = self._memory.get(name, HealthState(0, None))
                self._memory[name] = after_failure(old, now, self.cooldown_s)
                return
            with db:
                row = db.execute("SELECT failures, cooldown_until FROM health WHERE provider = ?", (name,)).fetchone()
                new = after_failure(HealthState(int(row[0]), row[1]) if row else HealthState(0, None), now,
                                     self.cooldown_s)  # fmt: skip
                db.execute(
                    "INSERT INTO health (provider, failures, cooldown_until) VALUES (?, ?, ?) "
                    "ON CONFLICT (provider) DO UPDATE SET failures = excluded.failures, "
                    "cooldown_until = excluded.cooldown_until",
                    (name, new.failures, new.cooldown_until),
                )

    def succeeded(self, name: str) -> None:
        with self._lock:
            db = self._open(create=False)
            if db is None:
                self._memory.pop(name, None)
                return
            with db:
                db.execute("DELETE FROM health WHERE provider = ?", (name,))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -------------------------------------------------------------- storage

    def _open(self, *, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if self.path is None or (not create and not self.path.exists()):
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS health (provider TEXT PRIMARY KEY, failures INTEGER NOT NULL, "
                "cooldown_until REAL)"
            )
            db.isolation_level = "DEFERRED"  # transactions through `with db:` from here on
        except (OSError, sqlite3.Error):
            self.path = None  # an unwritable queue dir: health lives in this process only
            return None
        self._db = db
        return db


def after_failure(old: HealthState, now: float, cooldown_s: float) -> HealthState:
    if old.cooling(now):
        return old
    failures = 1 if old.cooldown_until is not None else old.failures + 1  # a cool-down that ended starts over
    if failures >= FAILURES_TO_COOL_DOWN:
        return HealthState(failures, now + cooldown_s)
    return HealthState(failures, None)
