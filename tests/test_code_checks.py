"""The code checks run with the tests (issue 15): ruff (lint and format) and mypy, configured in pyproject.toml.

Each runs the pinned tool from the project's virtual environment (the `test` extra installs it) over the
whole repository and fails with the tool's own report.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the interpreter running the tests is the project's .venv


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{exe} is missing: install the test extra (pip install -e '.[test]')")
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def _report(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def test_ruff_lint_is_clean():
    done = _run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, _report(done)


def test_ruff_format_is_clean():
    done = _run("ruff", "format", "--no-cache", "--check", ".")
    assert done.returncode == 0, _report(done)


def test_mypy_is_clean():
    # no cache: nothing written into the tree, and every run checks everything afresh
    done = _run("mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert done.returncode == 0, _report(done)
    assert "Success: no issues found" in done.stdout, _report(done)


def test_declared_decorated_events_exist():
    """Aggregates declare the event classes eventsourcing makes from their @event methods (for mypy only,
    under TYPE_CHECKING); each declared name must be a real event class of that aggregate."""
    declared = []
    for path in sorted((ROOT / "domain").glob("*.py")):
        for cls in ast.parse(path.read_text()).body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in cls.body:
                if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                    for item in node.body:
                        if isinstance(item, ast.AnnAssign) and "DecoratedEvent" in ast.unparse(item.annotation):
                            declared.append((f"domain.{path.stem}", cls.name, ast.unparse(item.target)))
    assert declared, "no declarations found: the test no longer sees them"
    from eventsourcing.domain import CanMutateAggregate

    for module, cls_name, event_name in declared:
        aggregate = getattr(importlib.import_module(module), cls_name)
        event = getattr(aggregate, event_name, None)
        assert isinstance(event, type) and issubclass(event, CanMutateAggregate), (module, cls_name, event_name)
        assert event.__qualname__ == f"{cls_name}.{event_name}", (module, cls_name, event_name)
