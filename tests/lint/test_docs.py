"""docs/lint-rules.md lists every rule id, and every documented example fires its rule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from imagegen_mcp.lint import rules_coverage

from .support import rules

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "lint-rules.md"
SRC = ROOT / "src" / "imagegen_mcp" / "lint"


def _rule_rows() -> list[tuple[str, str, str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Rules", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append((cells[0].strip("`"), cells[-2], cells[-1]))
    return rows


def _emitted_rule_ids() -> set[str]:
    ids: set[str] = set()
    for path in SRC.glob("*.py"):
        ids |= set(re.findall(r'hint\(\s*doc,\s*"([a-z]+(?:-[a-z]+)+)"', path.read_text(encoding="utf-8")))
    ids |= {f"missing-{fam}" for fam in rules_coverage.FAMILIES}
    ids |= set(re.findall(r'rule="([a-z-]+)"', (SRC / "__init__.py").read_text(encoding="utf-8")))
    return ids


def _context(cell: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip().strip("`") for p in cell.split(","))):
        key, value = part.split("=", 1)
        out[key] = value == "true" if value in ("true", "false") else value
    return out


def _example(cell: str) -> str | None:
    m = re.match(r"`(.*)`(?:\s*×\s*(\d+))?$", cell)
    if not m:
        return None
    return m.group(1) * int(m.group(2) or 1)


def test_every_rule_id_the_code_emits_is_documented() -> None:
    documented = {rule for rule, _, _ in _rule_rows()}
    assert _emitted_rule_ids() <= documented
    assert documented <= _emitted_rule_ids()


@pytest.mark.parametrize(("rule", "example", "context"), _rule_rows(), ids=[r for r, _, _ in _rule_rows()])
def test_each_documented_example_fires_its_rule(rule: str, example: str, context: str) -> None:
    prompt = _example(example)
    if prompt is None:
        pytest.skip("no example (cannot be triggered on purpose)")
    assert rule in rules(prompt, **_context(context))
