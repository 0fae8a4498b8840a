"""A Node.js client written from the repository's .proto files alone runs a journey and decodes an ErrorInfo.

tests/node/journey.js loads protos/loyalty/v1/*.proto with @grpc/proto-loader (include path protos/, nothing
generated, nothing fetched) and the vendored google/rpc protos with protobufjs, then against server.py in a
subprocess: opens a store (operator), registers a member and places, pays and refunds an order (mini-program),
reads the order's attribution and the revenue stream (dealer), streams the order's events and its state
(auditor), and decodes the google.rpc.ErrorInfo of a refused redemption from grpc-status-details-bin. Node's
packages come from package.json / package-lock.json (``npm ci``); without node or npm the test is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.test_embedded_crash import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
TOKENS = {
    "miniprogram": "node-mp-token-0123456789",
    "operator": "node-op-token-0123456789",
    "dealer": "node-d1-token-0123456789",
    "auditor": "node-au-token-0123456789",
}
ROLES = {
    "miniprogram": "miniprogram@acme",
    "operator": "operator@acme",
    "dealer": "dealer:D001@acme",
    "auditor": "auditor@acme",
}


@pytest.fixture(scope="module")
def node_env(tmp_path_factory, pg_dsn) -> Iterator[dict[str, str]]:
    import asyncio

    from tests.conftest import _admin, _with_database

    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"the Node.js client needs node and npm on PATH (node: {node}, npm: {npm})")
    if not all((ROOT / "node_modules" / p).is_dir() for p in ("@grpc/grpc-js", "@grpc/proto-loader", "protobufjs")):
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
    name = f"node_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_dsn, f'CREATE DATABASE "{name}"'))
    server = ServerProcess(
        tmp_path_factory.mktemp("node"),
        env={
            "DATABASE_URL": _with_database(pg_dsn, name),
            "LOYALTY_API_TOKENS": ",".join(f"{TOKENS[role]}={spec}" for role, spec in ROLES.items()),
        },
    )
    try:
        server.channel().close()
        yield {
            **os.environ,
            "LOYALTY_ADDRESS": f"127.0.0.1:{server.port}",
            "LOYALTY_TOKENS": json.dumps(TOKENS),
            "REPO_ROOT": str(ROOT),
            "NODE_PATH": str(ROOT / "node_modules"),
            "RUN_ID": uuid.uuid4().hex[:8],
        }
        server.stop()
    finally:
        server.ensure_dead()
        asyncio.run(_admin(pg_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_node_client_from_the_repository_protos_runs_the_journey_and_decodes_error_info(node_env):
    done = subprocess.run(
        [shutil.which("node"), str(ROOT / "tests" / "node" / "journey.js")],
        cwd=ROOT,
        env=node_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["store"].startswith("cloudStores/") and out["store_status"] == "STORE_STATUS_OPEN"
    order = out["order"]
    assert order["state"] == "ORDER_STATE_ALLOCATED" and order["routing_store"] == out["store"]
    assert order["dealer"] == "dealers/D001" and order["place_time"] > 0
    assert order["steps"][-1] == ["ATTRIBUTION_SOURCE_NEAREST", "STEP_OUTCOME_CHOSEN", "STEP_REASON_NEAREST_ELIGIBLE"]
    assert out["paid_state"] == "ORDER_STATE_PAID"
    assert out["refunded_fen"] == 800 and out["refunds"] == ["damaged box"]
    assert out["attribution"] == {"dealer": "dealers/D001", "paid_fen": 12800, "store": out["store"]}
    assert out["revenue"] == [[12800, 800]], "the dealer's revenue stream shows the order and its refund"
    assert len(out["events"]) >= 3, out["events"]  # placed (and routed), paid, refunded
    assert out["state_type"] == "Order" and out["state_version"] == len(out["events"])
    assert out["refusal"] == {
        "grpc_code": 9,
        "code": 9,
        "reason": "INSUFFICIENT_POINTS",
        "domain": "loyalty.v1",
        "metadata": out["refusal"]["metadata"],
        "catalogued": True,
    }
