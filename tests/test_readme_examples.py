"""The README's client examples run as written against a real server, so they cannot drift from the API.

The Python and Node.js code blocks are taken from README.md and run as they are, in that
order (the Python one opens the store the Node one routes to), against server.py in a
subprocess on a fresh database, with known tokens. Node's gRPC packages come from the
repository's package.json and package-lock.json (``npm ci``); without node or npm the
Node example is skipped, saying so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.test_embedded_crash import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
TOKENS = {"miniprogram@acme": "readme-mp-token-0123456789", "operator@acme": "readme-op-token-0123456789"}


def readme_block(language: str) -> str:
    """The README's one code block in ``language`` that talks gRPC."""
    blocks = [b for b in re.findall(rf"```{language}\n(.*?)```", (ROOT / "README.md").read_text(), re.S) if "grpc" in b]
    assert len(blocks) == 1, f"expected one {language} gRPC example in README.md, found {len(blocks)}"
    return blocks[0]


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory, pg_dsn) -> Iterator[dict[str, str]]:
    """server.py on a fresh database; the environment a reader of the README would set."""
    import asyncio
    import uuid

    from tests.conftest import _admin, _with_database

    name = f"readme_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_dsn, f'CREATE DATABASE "{name}"'))
    server = ServerProcess(
        tmp_path_factory.mktemp("readme"),
        env={
            "DATABASE_URL": _with_database(pg_dsn, name),
            "LOYALTY_API_TOKENS": ",".join(f"{t}={r}" for r, t in TOKENS.items()),
        },
    )
    try:
        server.channel().close()
        yield {
            **os.environ,
            "LOYALTY_ADDRESS": f"127.0.0.1:{server.port}",
            "LOYALTY_MINIPROGRAM_TOKEN": TOKENS["miniprogram@acme"],
            "LOYALTY_OPERATOR_TOKEN": TOKENS["operator@acme"],
        }
        server.stop()
    finally:
        server.ensure_dead()
        asyncio.run(_admin(pg_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_the_python_example_places_and_pays_an_order(readme_server):
    done = subprocess.run(
        [sys.executable, "-c", readme_block("python")],
        cwd=ROOT,
        env=readme_server,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cloudStores/"), done.stdout


def test_the_node_example_routes_an_order(readme_server, tmp_path):
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"the Node.js example needs node and npm on PATH (node: {node}, npm: {npm})")
    if not (ROOT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
    # The Python example opened the store this one routes to (test order within the module).
    subprocess.run(
        [sys.executable, "-c", readme_block("python")], cwd=ROOT, env=readme_server, capture_output=True, timeout=60
    )  # idempotent: same request ids
    script = tmp_path / "readme_example.js"
    script.write_text(readme_block("js"))
    done = subprocess.run(
        [node, str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**readme_server, "NODE_PATH": str(ROOT / "node_modules")},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cloudStores/"), done.stdout
