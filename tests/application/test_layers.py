"""The application layer speaks only to its ports: no driver, no wire format, no infrastructure."""

from __future__ import annotations

import ast
from pathlib import Path

APPLICATION = Path(__file__).resolve().parents[2] / "application"
FORBIDDEN = ("infrastructure", "asyncpg", "grpc", "grpc_status", "google.protobuf", "google.rpc", "protos", "psycopg")


def imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def forbidden_imports(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root.parent)} imports {name}"
        for path in sorted(root.rglob("*.py"))
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]


def test_no_application_module_imports_infrastructure_a_driver_or_protobuf():
    assert forbidden_imports(APPLICATION) == []


def test_the_rule_catches_a_forbidden_import(tmp_path: Path):
    (tmp_path / "application").mkdir()
    (tmp_path / "application" / "bad.py").write_text(
        "import asyncpg\nfrom infrastructure.event_store import EventStore\nfrom google.protobuf import any_pb2\n"
    )
    assert len(forbidden_imports(tmp_path / "application")) == 3
