"""The protos pass `buf lint` (STANDARD and COMMENTS rules, buf.yaml) and `buf breaking` against the previous commit.

buf comes from the npm package @bufbuild/buf in package.json (`npm ci`, run here when node_modules lacks it).

Which commit `buf breaking` compares against: the previous commit (``HEAD~1``), or ``HEAD`` itself when the
protos or buf.yaml have uncommitted changes (so a developer sees a break before committing it). The baseline
is exported with ``git archive`` into a temporary directory (works in worktrees and needs no network), and it
must have a buf.yaml with a ``breaking:`` section: commits before the v1 contract was complete (issue 15,
which made the breaking changes CHANGELOG.md lists, added buf.yaml first and its ``breaking:`` section last)
have none, so against them the check is skipped, saying why. From the commit whose parent has it on, every
commit is held to buf's FILE rules against its parent: loyalty.v1 changes only compatibly.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def buf() -> str:
    npm = shutil.which("npm")
    binary = ROOT / "node_modules" / ".bin" / "buf"
    if not binary.exists():
        if npm is None or shutil.which("node") is None:
            pytest.skip("buf needs node and npm on PATH (npm ci installs @bufbuild/buf)")
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
    assert binary.exists(), "npm ci did not install node_modules/.bin/buf (package.json: @bufbuild/buf)"
    return str(binary)


def test_buf_lint_passes(buf):
    done = subprocess.run([buf, "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"buf lint:\n{done.stdout}\n{done.stderr}"


def test_buf_lint_would_catch_a_finding(buf, tmp_path):
    """The lint is live: the same configuration refuses an unprefixed enum value and an uncommented field."""
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / "protos", tmp_path / "protos", ignore=shutil.ignore_patterns("*.py", "*.pyi", "__pycache__"))
    (tmp_path / "protos" / "loyalty" / "v1" / "zz_bad.proto").write_text(
        'syntax = "proto3";\npackage loyalty.v1;\noption go_package = "loyalty/v1;loyaltyv1";\n'
        "// Bad.\nenum Bad {\n  // Zero.\n  BAD_UNSPECIFIED = 0;\n  // Unprefixed.\n  OTHER = 1;\n}\n"
        "// Worse.\nmessage Worse {\n  string uncommented = 1;\n}\n"
    )
    done = subprocess.run([buf, "lint"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ENUM_VALUE_PREFIX" in done.stdout + done.stderr or "prefixed" in done.stdout
    assert "uncommented" in done.stdout


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, timeout=60)


def test_buf_breaking_against_the_previous_commit(buf, tmp_path):
    if shutil.which("git") is None or _git("rev-parse", "--verify", "HEAD").returncode != 0:
        pytest.skip("not a git checkout: no previous commit to compare with")
    dirty = _git("diff", "--quiet", "HEAD", "--", "protos", "buf.yaml").returncode != 0
    ref = "HEAD" if dirty else "HEAD~1"
    if _git("rev-parse", "--verify", f"{ref}^{{commit}}").returncode != 0:
        pytest.skip(f"{ref} is not in this clone (a shallow clone?): fetch one more commit to compare")
    archive = _git("archive", "--format=tar", ref, "--", "buf.yaml", "protos")
    if archive.returncode != 0 or not archive.stdout:
        pytest.skip(f"{ref} has no buf.yaml: it predates the v1 contract (see this module's docstring)")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        names = tar.getnames()
        if "buf.yaml" not in names:
            pytest.skip(f"{ref} has no buf.yaml: it predates the v1 contract (see this module's docstring)")
        tar.extractall(tmp_path / "baseline", filter="data")
    if "\nbreaking:" not in (tmp_path / "baseline" / "buf.yaml").read_text():
        pytest.skip(f"{ref}'s buf.yaml has no breaking: section: it predates the completed v1 contract")
    done = subprocess.run(
        [buf, "breaking", "--against", str(tmp_path / "baseline")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"buf breaking against {ref}:\n{done.stdout}\n{done.stderr}"


def test_buf_breaking_would_catch_a_break(buf, tmp_path):
    """The comparison is live: renaming a field of the current protos is reported against the current ones."""
    work = tmp_path / "work"
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / "protos", tmp_path / "protos", ignore=shutil.ignore_patterns("*.py", "*.pyi", "__pycache__"))
    work.mkdir()
    shutil.copy(ROOT / "buf.yaml", work / "buf.yaml")
    shutil.copytree(tmp_path / "protos", work / "protos")
    orders = work / "protos" / "loyalty" / "v1" / "orders.proto"
    orders.write_text(orders.read_text().replace("int64 total_fen = 4", "int64 total_amount_fen = 4"))
    done = subprocess.run(
        [buf, "breaking", "--against", str(tmp_path)], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "total_fen" in done.stdout, done.stdout + done.stderr
