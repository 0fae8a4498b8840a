"""README's API section is checked against the protos: its table names every RPC of every service, and no other.

The table under "## The API" has one row per service (`| `Service` | for | calls |`). Every service in
protos/loyalty/v1 must have a row, and the backticked CamelCase names in a row's calls column must be exactly
that service's RPCs (other backticked CamelCase words must be message names, e.g. `CloudStore`).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.loyalty_protos import MODULES

ROOT = Path(__file__).resolve().parents[1]
FILES = MODULES


def services() -> dict[str, set[str]]:
    return {s.name: {m.name for m in s.methods} for f in FILES for s in f.DESCRIPTOR.services_by_name.values()}


def message_names() -> set[str]:
    return {name for f in FILES for name in (*f.DESCRIPTOR.message_types_by_name, *f.DESCRIPTOR.enum_types_by_name)}


def readme_rows() -> dict[str, str]:
    section = (ROOT / "README.md").read_text().split("## The API", 1)[1].split("\n## ", 1)[0]
    return {m[1]: m[2] for m in re.finditer(r"^\| `(\w+Service)` \|[^|]*\|(.*)\|$", section, re.M)}


def test_the_readme_table_lists_every_rpc_of_every_service_and_nothing_else():
    rows, known = readme_rows(), services()
    assert set(rows) == set(known), f"services in README {sorted(rows)} vs protos {sorted(known)}"
    messages = message_names()
    for service, calls in rows.items():
        named = {t for t in re.findall(r"`([A-Z][A-Za-z0-9]+)`", calls)}
        assert known[service] <= named, f"{service}: README lacks {sorted(known[service] - named)}"
        assert not named - known[service] - messages, (
            f"{service}: README names {sorted(named - known[service] - messages)}"
        )


def test_the_check_would_notice_a_missing_call():
    rows = readme_rows()
    assert "`ListOrders`" in rows["OrderService"] and "ListOrders" in services()["OrderService"]
