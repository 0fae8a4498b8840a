"""The checked-in generated code is exactly what ``python -m protos.generate`` produces now."""

from __future__ import annotations

from pathlib import Path

import pytest

from protos.generate import PROTO_DIR, ROOT, generate


def test_generated_code_is_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)  # protoc reads the protos relative to the root; the next test gets its own cwd back
    fresh = generate(tmp_path)
    assert fresh, "nothing was generated"
    for path in fresh:
        checked_in = ROOT / PROTO_DIR / path.name
        assert checked_in.exists(), f"{path.name} is not checked in: run python -m protos.generate"
        assert checked_in.read_bytes() == path.read_bytes(), f"{path.name} is stale: run python -m protos.generate"
