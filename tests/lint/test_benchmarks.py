"""Label agreement on PartiPrompts and DrawBench (skipped unless PROMPT_SETS_DIR points at the sets).

The sets stay outside the repository; only the hand audit (row numbers, hashes, labels) is stored here, in
fixtures/lint_audit.jsonl. Speed is measured by bench/lint_eval.py, not asserted here.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from imagegen_mcp.lint import LintContext, lint

FOLDER = os.environ.get("PROMPT_SETS_DIR")
pytestmark = pytest.mark.skipif(not FOLDER, reason="PROMPT_SETS_DIR is not set")


@pytest.fixture(scope="module")
def lint_eval() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "lint_eval.py"
    spec = importlib.util.spec_from_file_location("lint_eval_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


def test_every_mapping_with_a_target_meets_it(lint_eval: ModuleType) -> None:
    rows = lint_eval.load_rows(Path(str(FOLDER)))
    audit = lint_eval.load_audit(rows)
    context = LintContext(model="google/gemini-3.1-flash-image-preview")
    reports = {(r.dataset, r.index): lint(r.prompt, context) for r in rows}
    failed = []
    for mapping in lint_eval.build_mappings(audit):
        lint_eval.evaluate(mapping, rows, reports)
        if mapping.result["pass"] is False:
            failed.append((mapping.name, mapping.positives, mapping.result))
    assert not failed


def test_linting_both_sets_twice_gives_identical_json(lint_eval: ModuleType) -> None:
    rows = lint_eval.load_rows(Path(str(FOLDER)))
    context = LintContext(model="openai/gpt-image-1", aspect_ratio="16:9")
    first = [lint(r.prompt, context).model_dump_json() for r in rows]
    second = [lint(r.prompt, context).model_dump_json() for r in rows]
    assert first == second
