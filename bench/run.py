"""Run every benchmark, print one table, write JSON.

    python bench/run.py            # the full suite (a few minutes)
    python bench/run.py --quick    # fewer repetitions; what CI runs so the harness never rots
    python -m bench --json bench/results/latest.json

No figure here is asserted: on a shared 2-core machine a timing assertion is a coin toss. Each figure
is a ratio against a floor measured side by side in the same run; the table says whether it met its
target, and docs/benchmarks.md keeps the latest table with the machine it came from.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "bench"

from bench.common import Figure, report


def suites(quick: bool) -> list[tuple[str, Callable[[], list[Figure]]]]:
    from bench import cold_start, http_load, memory, per_call, routing

    runs = 3 if quick else 11
    found: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("cold start", lambda: cold_start.run(runs)),
        ("per call", lambda: per_call.run(runs if quick else 21)),
        ("routing", lambda: routing.run(runs)),
        ("memory", lambda: memory.run()),
        ("http load", lambda: http_load.run(10, 5) if quick else http_load.run(50, 30)),
    ]
    try:
        from bench import queue_bench

        found.append(("queue", lambda: queue_bench.figures(quick=quick)))
    except ImportError:
        pass
    found.append(("lint", lint_figures))
    return found


def lint_figures() -> list[Figure]:
    """The linter's speed over both labeled prompt sets (its precision/recall table: bench/lint_eval.py)."""
    import json
    import os
    import tempfile

    from bench import lint_eval

    folder = os.environ.get("PROMPT_SETS_DIR") or str(Path(__file__).resolve().parents[2] / "shared/data/prompts")
    if not Path(folder, "PartiPrompts.tsv").exists():
        print(f"lint: prompt sets not found in {folder}; skipped", file=sys.stderr)
        return []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lint.json"
        code = lint_eval.main(["--prompts", folder, "--json", str(out)])
        data = json.loads(out.read_text())
    passed = sum(1 for m in data["mappings"] if m.get("pass"))
    targeted = sum(1 for m in data["mappings"] if m.get("pass") is not None)
    return [
        Figure(
            "lint: median time per prompt",
            data["speed"]["median_ms"],
            None,
            "ms",
            target=1.0,
            note=f"{data['rows']} prompts; {passed}/{targeted} quality targets met (bench/lint_eval.py, exit {code})",
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (CI)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--only", action="append", default=[], help="run only these suites (repeatable)")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    started = time.monotonic()
    for name, suite in suites(args.quick):
        if args.only and name not in args.only:
            continue
        print(f"running {name} …", file=sys.stderr, flush=True)
        figures.extend(suite())
    report(figures, quick=args.quick, started=started, json_path=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
