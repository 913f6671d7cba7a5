"""Measured quality and speed of the prompt linter on PartiPrompts and DrawBench.

Usage:
    PYTHONPATH=src python bench/lint_eval.py [--prompts DIR] [--json FILE]

DIR defaults to $PROMPT_SETS_DIR, else ../shared/data/prompts relative to the repository. The labeled
sets stay outside the repository; the hand audit of which rows really ask for text / negate content
lives in tests/lint/fixtures/lint_audit.jsonl (dataset, row, label, expected, sha1 of the prompt).

Benchmark labels describe the *content challenge* of a prompt, not a lint verdict, so each mapping is
reported twice where it matters: against the raw label, and against the hand audit.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from imagegen_mcp.lint import LintContext, LintReport, lint

REPO = Path(__file__).resolve().parent.parent
AUDIT = REPO / "tests" / "lint" / "fixtures" / "lint_audit.jsonl"


@dataclass(frozen=True)
class Row:
    dataset: str  # "parti" | "drawbench"
    index: int
    prompt: str
    category: str
    challenge: str
    note: str


@dataclass
class Mapping:
    name: str
    positives: str
    pred: Callable[[LintReport], bool]
    label: Callable[[Row], bool]
    scope: Callable[[Row], bool] = lambda r: True
    target_recall: float | None = None
    target_precision: float | None = None
    max_fire_rate: float | None = None
    note: str = ""
    recall_only: bool = False
    result: dict[str, float | int | str | bool | None] = field(default_factory=dict)


def load_rows(folder: Path) -> list[Row]:
    rows: list[Row] = []
    with (folder / "PartiPrompts.tsv").open(encoding="utf-8", newline="") as f:
        for i, r in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)):
            rows.append(Row("parti", i, r["Prompt"], r["Category"], r["Challenge"], r["Note"]))
    with (folder / "DrawBench.csv").open(encoding="utf-8", newline="") as f:
        for i, r in enumerate(csv.DictReader(f)):
            rows.append(Row("drawbench", i, r["Prompts"], r["Category"], r["Category"], ""))
    return rows


def load_audit(rows: list[Row]) -> dict[str, dict[tuple[str, int], bool]]:
    """Hand labels per label name; rows not listed are negatives. Checks each row's prompt hash."""
    by_key = {(r.dataset, r.index): r for r in rows}
    audit: dict[str, dict[tuple[str, int], bool]] = {}
    for line in AUDIT.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        key = (item["dataset"], int(item["row"]))
        row = by_key.get(key)
        if row is None or hashlib.sha1(row.prompt.encode()).hexdigest()[:10] != item["sha1"]:
            raise SystemExit(f"audit row {key} does not match the prompt sets (wrong files?)")
        audit.setdefault(item["label"], {})[key] = bool(item["expected"])
    return audit


def fired(rule: str, *, min_severity: str = "info") -> Callable[[LintReport], bool]:
    order = {"info": 0, "warning": 1, "error": 2}
    return lambda rep: any(h.rule == rule and order[h.severity] >= order[min_severity] for h in rep.hints)


def evaluate(m: Mapping, rows: list[Row], reports: dict[tuple[str, int], LintReport]) -> None:
    tp = fp = fn = tn = 0
    for r in rows:
        if not m.scope(r):
            continue
        p = m.pred(reports[(r.dataset, r.index)])
        y = m.label(r)
        tp += p and y
        fp += p and not y
        fn += (not p) and y
        tn += (not p) and (not y)
    n = tp + fp + fn + tn
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    fire_rest = fp / (fp + tn) if fp + tn else 0.0
    ok = True
    if m.target_recall is not None:
        ok &= recall is not None and recall >= m.target_recall
    if m.target_precision is not None:
        ok &= precision is not None and precision >= m.target_precision
    if m.max_fire_rate is not None:
        ok &= fire_rest <= m.max_fire_rate
    has_target = any(t is not None for t in (m.target_recall, m.target_precision, m.max_fire_rate))
    m.result = {
        "n": n,
        "positives": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": None if m.recall_only else precision,
        "recall": recall,
        "fire_rate_rest": fire_rest,
        "pass": ok if has_target else None,
    }


def build_mappings(audit: dict[str, dict[tuple[str, int], bool]]) -> list[Mapping]:
    def audited(label: str) -> Callable[[Row], bool]:
        table = audit.get(label, {})
        return lambda r: table.get((r.dataset, r.index), False)

    reference_unquoted = {
        k
        for k, v in audit.get("text-unquoted", {}).items()
        if v and k[1] in (1556, 1563, 1571, 1593, 1601, 1577, 1578, 1598, 724, 304)
    }
    text_intent = lambda rep: rep.text_intent  # noqa: E731
    negation = fired("negative-phrasing")
    count_rules = lambda rep: fired("count-present")(rep) or fired("vague-plural")(rep)  # noqa: E731
    parti = lambda r: r.dataset == "parti"  # noqa: E731
    drawbench = lambda r: r.dataset == "drawbench"  # noqa: E731
    return [
        Mapping(
            "text intent",
            "DrawBench Text (raw label)",
            text_intent,
            lambda r: r.category == "Text",
            drawbench,
            0.9,
            0.8,
            note="recall >= 0.95 in prompt-lint.md",
        ),
        Mapping(
            "text intent",
            "Parti Writing & Symbols (raw label)",
            text_intent,
            lambda r: r.challenge == "Writing & Symbols",
            parti,
            note="label also holds symbols (yin-yang, latte art): informative only",
        ),
        Mapping(
            "text intent",
            "audited text-to-render, both sets",
            text_intent,
            audited("text-to-render"),
            target_recall=0.9,
            target_precision=0.8,
            max_fire_rate=0.02,
        ),
        Mapping(
            "text-unquoted",
            "prompt-lint.md unquoted list (10 rows)",
            fired("text-unquoted"),
            lambda r: (r.dataset, r.index) in reference_unquoted,
            target_recall=0.9,
            recall_only=True,
            note="recall only: the list is not exhaustive (the 15-row audit gives precision)",
        ),
        Mapping(
            "text-unquoted",
            "audited unquoted text, both sets (15 rows)",
            fired("text-unquoted"),
            audited("text-unquoted"),
            target_recall=0.9,
            target_precision=0.8,
        ),
        Mapping(
            "text-unquoted",
            "must stay quiet on DrawBench Text (all quoted)",
            fired("text-unquoted"),
            lambda r: False,
            lambda r: r.dataset == "drawbench" and r.category == "Text",
            max_fire_rate=0.0,
        ),
        Mapping(
            "negative-phrasing",
            "Parti Note 'Negation' (raw label), Parti",
            negation,
            lambda r: r.note == "Negation",
            parti,
            note="extra firings are real negations the note does not mark (see audit)",
        ),
        Mapping(
            "negative-phrasing",
            "Parti Note 'Negation' (raw label), both sets",
            negation,
            lambda r: r.note == "Negation",
            note="DrawBench has no negation label",
        ),
        Mapping(
            "negative-phrasing",
            "audited negation, both sets",
            negation,
            audited("negation"),
            target_recall=0.9,
            target_precision=0.8,
        ),
        Mapping(
            "count-present ∪ vague-plural",
            "Parti Quantity (raw label)",
            count_rules,
            lambda r: r.challenge == "Quantity",
            parti,
            note="misses: bare plurals (bottles, children)",
        ),
        Mapping(
            "count-present ∪ vague-plural",
            "DrawBench Counting (raw label)",
            count_rules,
            lambda r: r.category == "Counting",
            drawbench,
        ),
        Mapping(
            "count-present",
            "DrawBench Counting (raw label)",
            fired("count-present"),
            lambda r: r.category == "Counting",
            drawbench,
            target_recall=0.98,
        ),
        Mapping(
            "style-conflict",
            "quiet on DrawBench Conflicting",
            fired("style-conflict"),
            lambda r: False,
            lambda r: r.dataset == "drawbench" and r.category == "Conflicting",
            max_fire_rate=0.0,
        ),
        Mapping(
            "style-conflict",
            "quiet on Parti Style & Format",
            fired("style-conflict"),
            lambda r: False,
            lambda r: r.dataset == "parti" and r.challenge == "Style & Format",
            max_fire_rate=0.01,
        ),
        Mapping(
            "edit intent (any level)",
            "false positives, all prompts",
            lambda rep: rep.edit_intent,
            lambda r: False,
            max_fire_rate=0.02,
        ),
        Mapping(
            "edit-needs-baseline (error)",
            "false positives, all prompts",
            fired("edit-needs-baseline", min_severity="error"),
            lambda r: False,
            max_fire_rate=0.005,
        ),
        Mapping(
            "too-short",
            "Parti prompts of <= 2 words",
            fired("too-short"),
            lambda r: len(r.prompt.split()) <= 2,
            parti,
            target_recall=0.9,
        ),
        Mapping(
            "too-short",
            "quiet on Parti Complex",
            fired("too-short"),
            lambda r: False,
            lambda r: r.dataset == "parti" and r.challenge == "Complex",
            max_fire_rate=0.0,
        ),
        Mapping("keyword-list", "firing, all prompts", fired("keyword-list"), lambda r: False, max_fire_rate=0.02),
        Mapping("foreign-syntax", "firing, all prompts", fired("foreign-syntax"), lambda r: False, max_fire_rate=0.0),
        Mapping(
            "aspect-in-text ∪ aspect-conflict ∪ orientation-mismatch",
            "firing, all prompts",
            lambda rep: any(h.rule in ("aspect-in-text", "aspect-conflict", "orientation-mismatch") for h in rep.hints),
            lambda r: False,
            max_fire_rate=0.0,
        ),
        Mapping(
            "image-count-in-text",
            "firing, all prompts",
            fired("image-count-in-text"),
            lambda r: False,
            max_fire_rate=0.0,
        ),
    ]


def timing(prompts: Iterable[str], context: LintContext, repeat: int = 3) -> dict[str, float]:
    samples: list[float] = []
    for p in prompts:
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            lint(p, context)
            best = min(best, time.perf_counter() - t0)
        samples.append(best * 1000)
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p95_ms": samples[int(0.95 * (len(samples) - 1))],
        "p99_ms": samples[int(0.99 * (len(samples) - 1))],
        "max_ms": samples[-1],
        "n": float(len(samples)),
    }


def fmt(x: float | int | str | bool | None, pct: bool = False) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "pass" if x else "FAIL"
    if isinstance(x, float):
        return f"{x:.1%}" if pct else f"{x:.2f}"
    return str(x)


def target_text(m: Mapping) -> str:
    parts = []
    if m.target_recall is not None:
        parts.append(f"R≥{m.target_recall:g}")
    if m.target_precision is not None:
        parts.append(f"P≥{m.target_precision:g}")
    if m.max_fire_rate is not None:
        parts.append(f"rest≤{m.max_fire_rate:.1%}")
    return ", ".join(parts) or "–"


def main(argv: list[str] | None = None) -> int:
    default = os.environ.get("PROMPT_SETS_DIR") or str(REPO.parent / "shared" / "data" / "prompts")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--prompts", default=default, help="folder with PartiPrompts.tsv and DrawBench.csv")
    ap.add_argument("--json", help="write the results as JSON to this file")
    ap.add_argument("--model", default="google/gemini-3.1-flash-image-preview", help="model id for the context")
    args = ap.parse_args(argv)
    folder = Path(args.prompts)
    if not (folder / "PartiPrompts.tsv").exists():
        print(f"prompt sets not found in {folder} (set --prompts or PROMPT_SETS_DIR)", file=sys.stderr)
        return 2
    rows = load_rows(folder)
    audit = load_audit(rows)
    context = LintContext(model=args.model)
    reports = {(r.dataset, r.index): lint(r.prompt, context) for r in rows}
    again = {(r.dataset, r.index): lint(r.prompt, context) for r in rows}
    deterministic = all(reports[k].model_dump_json() == again[k].model_dump_json() for k in reports)
    mappings = build_mappings(audit)
    for m in mappings:
        evaluate(m, rows, reports)
    speed = timing((r.prompt for r in rows), context)

    header = (
        "| rule | positives / scope | n | pos | TP | FP | FN | precision | recall | fires on rest | target | result |"
    )
    lines = [header, "|" + "---|" * 12]
    for m in mappings:
        r = m.result
        lines.append(
            f"| {m.name} | {m.positives} | {r['n']} | {r['positives']} | {r['tp']} | {r['fp']} | {r['fn']} | "
            f"{fmt(r['precision'])} | {fmt(r['recall'])} | {fmt(r['fire_rate_rest'], pct=True)} | {target_text(m)} | "
            f"{fmt(r['pass'])} |"
        )
    speed_ok = speed["median_ms"] <= 1.0
    lines.append("")
    lines.append(
        f"Speed over {int(speed['n'])} prompts (best of 3 each, {args.model}): median {speed['median_ms']:.3f} ms, "
        f"p95 {speed['p95_ms']:.3f} ms, p99 {speed['p99_ms']:.3f} ms, max {speed['max_ms']:.3f} ms "
        f"(target median ≤ 1 ms: {'pass' if speed_ok else 'FAIL'})."
    )
    lines.append(f"Deterministic (two runs, byte-identical JSON): {'yes' if deterministic else 'NO'}.")
    print("\n".join(lines))
    if args.json:
        payload = {
            "model": args.model,
            "rows": len(rows),
            "deterministic": deterministic,
            "speed": speed,
            "mappings": [
                {"rule": m.name, "label": m.positives, "target": target_text(m), "note": m.note, **m.result}
                for m in mappings
            ],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    failed = [m for m in mappings if m.result.get("pass") is False]
    return 1 if failed or not speed_ok or not deterministic else 0


if __name__ == "__main__":
    sys.exit(main())
