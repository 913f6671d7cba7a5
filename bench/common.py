"""Measuring on a noisy shared 2-core machine: interleave A and B, discard warm-up, take medians.

Every figure in this suite is a ratio of the project against a floor measured side by side in the
same run, so a slow or busy machine moves both and the ratio stays meaningful.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass
class Figure:
    name: str
    value: float
    floor: float | None
    unit: str
    target: float | None = None  # on the ratio, or on the value when there is no floor
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return self.value / self.floor if self.floor else None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        measured = self.ratio if self.floor else self.value
        return measured is not None and measured <= self.target

    def row(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def interleaved(
    a: Callable[[], float], b: Callable[[], float], runs: int, warmup: int = 1
) -> tuple[list[float], list[float]]:
    """Run a and b alternately (a b a b …) so drift in machine load hits both equally."""
    for _ in range(warmup):
        a()
        b()
    xs: list[float] = []
    ys: list[float] = []
    for _ in range(runs):
        xs.append(a())
        ys.append(b())
    return xs, ys


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def table(figures: list[Figure]) -> str:
    lines = [
        f"{'benchmark':44} {'value':>12} {'floor':>12} {'ratio':>7} {'target':>8}  met",
        "-" * 92,
    ]
    for f in figures:
        value = f"{f.value:.2f} {f.unit}"
        floor = f"{f.floor:.2f} {f.unit}" if f.floor is not None else "-"
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        target = (f"<={f.target:g}x" if f.floor is not None else f"<={f.target:g}") if f.target is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        lines.append(f"{f.name:44} {value:>12} {floor:>12} {ratio:>7} {target:>8}  {met}")
        if f.note:
            lines.append(f"    {f.note}")
    return "\n".join(lines)


def write_json(figures: list[Figure], path: Path, meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "figures": [f.row() for f in figures]}, indent=2) + "\n")


def machine() -> dict[str, Any]:
    import platform

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "system": platform.platform(),
    }


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "IMAGEGEN_"))}
    env.update(extra)
    return env


def report(figures: list[Figure], *, quick: bool, started: float, json_path: Path | None) -> None:
    """Print the table and the machine it ran on; write JSON when asked."""
    import time

    print(table(figures))
    meta = {**machine(), "quick": quick, "seconds": round(time.monotonic() - started, 1)}
    print(f"\n{meta}")
    if json_path:
        write_json(figures, json_path, meta)
