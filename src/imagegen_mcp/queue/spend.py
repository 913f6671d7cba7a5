"""Spending per day: what every call billed (or, when the provider did not say, its estimate).

Kept in the job store's directory so every process on this machine adds to, and reads, one ledger:
a small SQLite file beside the queue database (``<queue dir>/spend.sqlite3``, created on the first
recorded cost). Days are UTC dates. ``IMAGEGEN_DAILY_BUDGET_USD`` is checked against it before each
call (:mod:`imagegen_mcp.costs`), and preflight shows today's spend and what is left.

The team shape (PostgreSQL queue) keeps this ledger per replica for now: a shared table is to come
(see the README's budget section).
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

FILENAME = "spend.sqlite3"
log = logging.getLogger("imagegen_mcp")


def utc_day(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).date().isoformat()


class Spend:
    def __init__(self, directory: Path, clock: Callable[[], str] = utc_day) -> None:
        self.path = directory / FILENAME
        self._day = clock
        self._lock = threading.Lock()

    def today(self) -> float:
        """USD recorded today (0 when nothing is, or the ledger cannot be read)."""
        if not self.path.exists():
            return 0.0
        with self._lock:
            try:
                with sqlite3.connect(self.path, timeout=5) as db:
                    row = db.execute("SELECT usd FROM spend WHERE day = ?", (self._day(),)).fetchone()
            except sqlite3.Error:
                return 0.0
        return float(row[0]) if row else 0.0

    def add(self, usd: float) -> None:
        if usd <= 0:
            return
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5)
                try:
                    with db:
                        db.execute("CREATE TABLE IF NOT EXISTS spend (day TEXT PRIMARY KEY, usd REAL NOT NULL)")
                        db.execute(
                            "INSERT INTO spend (day, usd) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET usd = usd + ?",
                            (self._day(), usd, usd),
                        )
                finally:
                    db.close()
            except (OSError, sqlite3.Error) as exc:  # never fail (or hide) a billed call over its bookkeeping
                log.warning("could not record $%.4f of spend in %s: %s", usd, self.path, exc)
