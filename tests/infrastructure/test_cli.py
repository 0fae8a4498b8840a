"""The ``loyalty`` command, each subcommand run as the installed console script in a subprocess.

Against a fresh database of the embedded PostgreSQL (``DATABASE_URL``), from a directory that is not
the repository: what an operator's shell or a deployment script sees, exit codes included.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from application.repository import Repository
from application.stores import store_id_for
from domain.cloud_store import CloudStore
from domain.geo import CoordSystem
from domain.store_values import FulfilmentMode
from infrastructure.api.auth import parse_tokens
from infrastructure.event_store import EventStore
from infrastructure.mapper import build_mapper
from tests.conftest import NAMES

ROOT = Path(__file__).resolve().parents[2]
LOYALTY = Path(sys.executable).with_name("loyalty")
EVENTS = NAMES.q(NAMES.events)
HEADER = (
    "code,name,dealer,latitude,longitude,coordinate_system,service_radius_m,modes,hours,time_zone,"
    "daily_capacity,online_orders_enabled"
)
GOOD = (
    "\n".join(
        [
            HEADER,
            "SH-001,人民广场店,D001,31.2305,121.4738,GCJ02,5000,DELIVERY;PICKUP,,,,",
            (
                'SH-002,"Xujiahui, by the metro",dealers/D002,31.19,121.43,BD09,3000,PICKUP,'
                "1-5 09:00-21:00;6-7 10:00-02:00,Asia/Shanghai,200,false"
            ),
            "IN-001,Bandra,D003,19.06,72.83,WGS84,500,IN_STORE,1-7 00:00-24:00,Asia/Kolkata,0,true",
        ]
    )
    + "\n"
)


def test_the_command_is_installed_by_pyproject() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["loyalty"] == "infrastructure.cli:run"
    assert LOYALTY.exists(), f"{LOYALTY} is missing: pip install -e . installs the loyalty command"


def loyalty(
    *args: str,
    where: Path,
    dsn: str | None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "LOYALTY_DATA_DIR": str(where / "data"), **(env or {})}
    environment.pop("DATABASE_URL", None)
    environment.pop("LOYALTY_API_TOKENS", None)
    if dsn is not None:
        environment["DATABASE_URL"] = dsn
    environment.update(env or {})
    return subprocess.run(
        [str(LOYALTY), *args],
        cwd=where,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


PROJECTIONS = [
    "event_chain",
    "dealer_ledger",
    "member_points",
    "guide_performance",
    "settlement_lines",
    "due_settlements",
    "due_payments",
    "member_orders",
    "stock_levels",
    "drop_results",
]
"""infrastructure.projections.all_projections, in its order."""


def adopted(dsn: str, where: Path) -> str:
    """acme and beta onboarded onto the configured schema (public), as a database from before tenants is
    adopted, so these tests read their events where they always were; the tenancy tests cover own schemas."""
    for brand in ("acme", "beta"):
        done = loyalty("tenants", "onboard", brand, "--schema", "public", where=where, dsn=dsn)
        assert done.returncode == 0, done.stderr
    return dsn


async def query(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def count_events(dsn: str) -> int:
    return asyncio.run(query(dsn, f"SELECT count(*) FROM {EVENTS}"))[0][0]


async def load_stores(dsn: str, brand: str, codes: list[str]) -> dict[str, CloudStore]:
    store = await EventStore.open(dsn, NAMES)
    try:
        repository = Repository(store, build_mapper({}))
        return {code: await repository.get(store_id_for(brand, code), CloudStore) for code in codes}
    finally:
        await store.close()


# --- help and usage --------------------------------------------------------------------------------------------


SUBCOMMANDS = [
    "serve",
    "migrate",
    "rebuild",
    "projections",
    "export",
    "verify",
    "import-stores",
    "tokens",
    "tokens issue",
    "tokens list",
]


@pytest.mark.parametrize("command", [[], *[c.split() for c in SUBCOMMANDS]], ids=["loyalty", *SUBCOMMANDS])
def test_every_command_has_help_with_the_exit_codes(command: list[str], tmp_path: Path) -> None:
    done = loyalty(*command, "--help", where=tmp_path, dsn=None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: loyalty {' '.join(command)}".rstrip())
    assert "exit status: 0 done, 1 failed, 2 usage" in " ".join(done.stdout.split())
    assert not (tmp_path / "data").exists(), "help starts no database"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["nope"],
        ["export", "--after", "-1"],
        ["export", "--since", "yesterday"],
        ["verify", "--anchor", "not-an-anchor"],
        ["import-stores", "stores.csv"],  # no --brand
        ["import-stores", "stores.csv", "--brand", "Not A Brand!"],
        ["import-stores", "no-such-file.csv", "--brand", "acme"],
        ["rebuild", "no.such.module:projections"],
        ["tokens"],
        ["tokens", "issue", "operator"],  # no brand
        ["tokens", "issue", "dealer@acme"],  # a dealer token names its dealer
        ["tokens", "issue", "janitor@acme"],
        ["serve", "--workers", "0"],
        ["import-stores", "stores.csv", "--brand", "acme", "--delimiter", ";;"],
    ],
    ids=lambda a: " ".join(a) or "nothing",
)
def test_usage_errors_exit_2_and_touch_nothing(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "stores.csv").write_text(GOOD)
    done = loyalty(*args, where=tmp_path, dsn=None)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "error" in done.stderr and done.stdout == ""
    assert not (tmp_path / "data").exists(), "a usage error starts no database"


def test_a_bad_configuration_is_a_usage_error(tmp_path: Path, fresh_dsn: str) -> None:
    done = loyalty("verify", where=tmp_path, dsn=fresh_dsn, env={"SNAPSHOT_INTERVAL": "often"})
    assert done.returncode == 2 and "SNAPSHOT_INTERVAL must be an integer" in done.stderr


def test_an_unreachable_database_is_a_failure_exit_1(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = loyalty("verify", where=tmp_path, dsn=f"postgresql://nobody@127.0.0.1:{port}/nothing")
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("loyalty verify: failed:") and "Traceback" not in done.stderr


# --- migrate ---------------------------------------------------------------------------------------------------


def test_migrate_applies_the_schema_once_and_creates_the_read_models(tmp_path: Path, fresh_dsn: str) -> None:
    first = loyalty("migrate", where=tmp_path, dsn=fresh_dsn)
    assert first.returncode == 0, first.stderr
    lines = [line.split("\t") for line in first.stdout.splitlines()]
    assert [int(v) for v, *_ in lines] == list(range(1, len(lines) + 1)) and len(lines) >= 3
    assert {state for *_, state in lines} == {"applied now"}
    tables = {r[0] for r in asyncio.run(query(fresh_dsn, "SELECT tablename FROM pg_tables WHERE schemaname='public'"))}
    assert {"loyaltyengine_events", "event_chain", "points_history", "schema_migrations"} <= tables
    again = loyalty("migrate", "--quiet", where=tmp_path, dsn=fresh_dsn)
    assert again.returncode == 0 and again.stderr == ""
    assert {line.split("\t")[-1] for line in again.stdout.splitlines()} == {"already applied"}


# --- import-stores ---------------------------------------------------------------------------------------------


def test_import_stores_opens_every_row_by_the_api_rules_with_a_progress_bar(tmp_path: Path, fresh_dsn: str) -> None:
    (tmp_path / "stores.csv").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())  # Excel's UTF-8 BOM
    adopted(fresh_dsn, tmp_path)
    done = loyalty("import-stores", "stores.csv", "--brand", "acme", where=tmp_path, dsn=fresh_dsn)
    assert done.returncode == 0, done.stderr
    printed = dict(line.split("\t") for line in done.stdout.splitlines())
    assert printed == {code: f"cloudStores/{store_id_for('acme', code)}" for code in ("SH-001", "SH-002", "IN-001")}
    assert "open [##############################] 3/3 stores 100.0%" in done.stderr
    assert "validate [" in done.stderr and "opened 3 stores for brand acme" in done.stderr

    stores = asyncio.run(load_stores(fresh_dsn, "acme", ["SH-001", "SH-002", "IN-001"]))
    sq, xjh, bandra = stores["SH-001"], stores["SH-002"], stores["IN-001"]
    assert (sq.brand, sq.name, sq.dealer_id, sq.online_orders_enabled, sq.daily_capacity) == (
        "acme",
        "人民广场店",
        "D001",
        True,
        0,
    )
    assert set(sq.modes) == {FulfilmentMode.DELIVERY, FulfilmentMode.PICKUP}
    assert sq.location.system is CoordSystem.WGS84 and sq.location != sq.original_location  # GCJ02 converted
    assert len(sq.hours.days) == 7 and sq.hours.days[0].close_minute == 1440  # no hours: always open
    assert (xjh.name, xjh.dealer_id, xjh.online_orders_enabled, xjh.daily_capacity) == (
        "Xujiahui, by the metro",
        "D002",
        False,
        200,
    )
    assert xjh.original_location.system is CoordSystem.BD09
    assert [(d.weekday, d.open_minute, d.close_minute) for d in xjh.hours.days] == [
        (d, 540, 1260) for d in range(5)
    ] + [(5, 600, 1560), (6, 600, 1560)]  # Saturday 10:00 to 02:00
    assert (bandra.hours.time_zone, bandra.hours.utc_offset_minutes) == ("Asia/Kolkata", 330)
    assert bandra.modes == (FulfilmentMode.IN_STORE,) and bandra.service_radius_m == 500


def test_import_stores_reads_standard_input_and_checks_without_writing_on_a_dry_run(
    tmp_path: Path, fresh_dsn: str
) -> None:
    adopted(fresh_dsn, tmp_path)
    dry = loyalty("import-stores", "-", "--brand", "beta", "--dry-run", where=tmp_path, dsn=fresh_dsn, stdin=GOOD)
    assert dry.returncode == 0, dry.stderr
    assert "3 stores are valid for brand beta; nothing written" in dry.stderr and dry.stdout == ""
    assert count_events(fresh_dsn) == 0
    done = loyalty("import-stores", "-", "--brand", "beta", "--quiet", where=tmp_path, dsn=fresh_dsn, stdin=GOOD)
    assert done.returncode == 0 and done.stderr == "" and len(done.stdout.splitlines()) == 3
    assert count_events(fresh_dsn) == 3


BAD = (
    "\n".join(
        [
            HEADER,  # line 1
            "OK-1,Fine,D001,31.2305,121.4738,GCJ02,5000,DELIVERY,,,,",  # 2: fine
            ",,D001,95,121.4738,GCJ02,-5,TELEPORT,,,ten,maybe",  # 3: many problems
            "OK-1,Again,D001,31.2305,121.4738,GCJ02,5000,DELIVERY,,,,",  # 4: a repeated code
            "TZ-1,Paris,D001,31.2305,121.4738,WGS84,5000,DELIVERY,1-5 09:00-21:00,Europe/Paris,,",  # 5: DST zone
            "",  # 6: blank, skipped
            "SHORT,Short,D001",  # 7: fields missing
            'ML-1,"two',  # 8-9: a quoted newline
            f'lines",{"D" * 65},31,121,GCJ02,10,PICKUP,8-9 09:00-10:00,,,',  # a dealer id of 65 characters
            "SH-001,Exists,D001,31.2305,121.4738,GCJ02,5000,DELIVERY,,,,",  # 10: already open
            "NUL-1,Bell\x07,D001,31.2305,121.4738,GCJ02,5000,DELIVERY,,,,",  # 11: a control character
            "OK-2,Fine too,D002,31.2305,121.4738,GCJ02,5000,PICKUP,,,,",  # 12: fine
        ]
    )
    + "\n"
)


def test_a_bad_csv_is_reported_row_by_row_with_line_numbers_and_nothing_is_written(
    tmp_path: Path, fresh_dsn: str
) -> None:
    (tmp_path / "good.csv").write_text(GOOD)
    adopted(fresh_dsn, tmp_path)
    assert loyalty("import-stores", "good.csv", "--brand", "acme", where=tmp_path, dsn=fresh_dsn).returncode == 0
    before = count_events(fresh_dsn)
    (tmp_path / "bad.csv").write_text(BAD)
    done = loyalty("import-stores", "bad.csv", "--brand", "acme", where=tmp_path, dsn=fresh_dsn)
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    report = done.stderr[done.stderr.index("bad.csv:") :].splitlines()
    assert report[0] == "bad.csv: 7 bad rows; nothing was imported"
    problems = [line.strip() for line in report[1:]]
    expected = [
        "line 3: code: required (FIELD_REQUIRED)",
        "line 3: name: required (FIELD_REQUIRED)",
        "line 3: service_radius_m: service_radius_m must not be negative (OUT_OF_RANGE)",
        "line 3: modes: unknown mode TELEPORT (DELIVERY, PICKUP or IN_STORE, separated by ;)",
        "line 3: daily_capacity: a whole number of orders per day, got 'ten'",
        "line 3: online_orders_enabled: true or false, got 'maybe'",
        "line 3: latitude/longitude: lat must be within [-90, 90] (INVALID_COORDINATE)",
        "line 4: code: OK-1 repeats line 2 (DUPLICATE_CODE)",
        "line 7: 3 fields, the header has 12",
        "lines 8-9: hours: weekdays are 1 (Monday) to 7 (Sunday), got '8-9'",
        "line 10: code: store code SH-001 is already open in brand acme (STORE_CODE_EXISTS)",
        "line 11: name must not contain control characters (INVALID_TEXT)",
    ]
    for line in expected:
        assert line in problems, (line, problems)
    assert any(p.startswith("line 5: time_zone:") and "INVALID_TIME_ZONE" in p for p in problems), problems
    assert any(
        p.startswith("lines 8-9: dealer: dealer must look like dealers/{id}") and p.endswith("(INVALID_RESOURCE_NAME)")
        for p in problems
    ), problems
    assert not any(p.startswith(("line 2:", "line 6:", "line 12:")) for p in problems), problems
    assert count_events(fresh_dsn) == before, "all or nothing: the good rows were not opened either"


def test_a_file_without_the_documented_columns_is_refused_as_a_whole(tmp_path: Path, fresh_dsn: str) -> None:
    (tmp_path / "stores.csv").write_text("code,name,dealer,lat,lng\nSH-1,A,D1,31,121\n")
    adopted(fresh_dsn, tmp_path)
    done = loyalty("import-stores", "stores.csv", "--brand", "acme", where=tmp_path, dsn=fresh_dsn)
    assert done.returncode == 3
    assert "line 1: missing columns: latitude, longitude, coordinate_system, service_radius_m, modes" in done.stderr
    assert "line 1: unknown columns: lat, lng" in done.stderr
    (tmp_path / "empty.csv").write_text("")
    empty = loyalty("import-stores", "empty.csv", "--brand", "acme", where=tmp_path, dsn=fresh_dsn)
    assert empty.returncode == 3 and "the file is empty" in empty.stderr
    assert count_events(fresh_dsn) == 0


# --- rebuild, verify, export -----------------------------------------------------------------------------------


def imported(tmp_path: Path, dsn: str) -> None:
    (tmp_path / "stores.csv").write_text(GOOD)
    adopted(dsn, tmp_path)
    done = loyalty("import-stores", "stores.csv", "--brand", "acme", "-q", where=tmp_path, dsn=dsn)
    assert done.returncode == 0, done.stderr


def test_rebuild_then_verify_and_a_tampered_event_fails_verification_with_exit_3(
    tmp_path: Path, fresh_dsn: str
) -> None:
    imported(tmp_path, fresh_dsn)
    listed = loyalty("rebuild", "--list", where=tmp_path, dsn=fresh_dsn)
    assert listed.returncode == 0 and "event_chain" in listed.stdout.split() and "dealer_ledger" in listed.stdout
    unknown = loyalty("rebuild", "--only", "no_such_projection", where=tmp_path, dsn=fresh_dsn)
    assert unknown.returncode == 2 and "no such projection: no_such_projection" in unknown.stderr

    unchained = loyalty("verify", where=tmp_path, dsn=fresh_dsn)  # nothing chained yet: not an error
    assert unchained.returncode == 0 and unchained.stdout.startswith("ok: 0 events verified; 3 not chained yet")
    rebuilt = loyalty("rebuild", "--only", "event_chain", where=tmp_path, dsn=fresh_dsn)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.startswith("event_chain\t3 events\t") and "event_chain: 3/3 (100.0%)" in rebuilt.stderr
    verified = loyalty("verify", where=tmp_path, dsn=fresh_dsn)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("ok: 3 events verified; 0 not chained yet; head 3:")
    assert "verify [##############################] 3/3" in verified.stderr
    anchor = verified.stdout.rsplit("head ", 1)[1].strip()
    assert loyalty("verify", "--anchor", anchor, "-q", where=tmp_path, dsn=fresh_dsn).returncode == 0

    asyncio.run(query(fresh_dsn, f"UPDATE {EVENTS} SET state = state || '\\x20'::bytea WHERE notification_id = 2"))
    broken = loyalty("verify", "--json", "--quiet", where=tmp_path, dsn=fresh_dsn)
    assert broken.returncode == 3, broken.stderr
    assert json.loads(broken.stdout) == {
        "ok": False,
        "checked": 1,
        "unchained": 0,
        "first_broken_position": 2,
        "reason": "hash mismatch: event altered, renumbered or chain rewritten",
        "head": broken_head(broken),
    }
    assert broken.stderr == ""


def broken_head(done: subprocess.CompletedProcess[str]) -> str:
    head = json.loads(done.stdout)["head"]
    assert head.startswith("1:")
    return head


def test_rebuild_all_projections_by_default(tmp_path: Path, fresh_dsn: str) -> None:
    imported(tmp_path, fresh_dsn)
    done = loyalty("rebuild", where=tmp_path, dsn=fresh_dsn)
    assert done.returncode == 0, done.stderr
    names = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert names == PROJECTIONS
    positions = asyncio.run(query(fresh_dsn, "SELECT application_name, notification_id FROM projection_tracking"))
    assert {name: position for name, position in positions} == dict.fromkeys(names, 3)


def test_export_streams_json_lines_to_stdout_or_a_file(tmp_path: Path, fresh_dsn: str) -> None:
    imported(tmp_path, fresh_dsn)
    out = loyalty("export", "--after", "1", where=tmp_path, dsn=fresh_dsn)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["notification_id"] for e in events] == [2, 3]
    assert {e["topic"] for e in events} == {"domain.cloud_store:CloudStore.Opened"}
    assert events[0]["state"]["code"] == "SH-002" and events[0]["state"]["brand"] == "acme"
    assert "export [" in out.stderr and "exported 2 events" in out.stderr

    to_file = loyalty(
        "export", "-o", "events.jsonl", "--until", "2999-01-01T00:00:00", "-q", where=tmp_path, dsn=fresh_dsn
    )
    assert to_file.returncode == 0 and to_file.stdout == "" and to_file.stderr == ""
    written = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["notification_id"] for e in written] == [1, 2, 3]
    assert not list(tmp_path.glob("*.partial"))
    none = loyalty("export", "--since", "2999-01-01", "-q", where=tmp_path, dsn=fresh_dsn)
    assert none.returncode == 0 and none.stdout == ""


# --- tokens ----------------------------------------------------------------------------------------------------


def test_tokens_are_issued_as_role_at_brand_entries_the_server_accepts(tmp_path: Path) -> None:
    done = loyalty("tokens", "issue", "operator@acme", "dealer:D001@beta", where=tmp_path, dsn=None)
    assert done.returncode == 0, done.stderr
    entries = done.stdout.splitlines()
    principals = parse_tokens(",".join(entries))
    assert sorted((p.role.value, p.brand, p.dealer_id) for p in principals.values()) == [
        ("dealer", "beta", "D001"),
        ("operator", "acme", None),
    ]
    assert all(len(token) >= 32 for token in principals)

    current = "an-existing-token-0001=auditor@acme"
    appended = loyalty(
        "tokens", "issue", "--append", "miniprogram@acme", where=tmp_path, dsn=None, env={"LOYALTY_API_TOKENS": current}
    )
    assert appended.returncode == 0, appended.stderr
    value = appended.stdout.strip()
    assert value.startswith(current + ",") and value.endswith("=miniprogram@acme")
    assert len(parse_tokens(value)) == 2


def test_tokens_list_shows_roles_brands_and_fingerprints_never_the_tokens(tmp_path: Path) -> None:
    spec = "token-of-the-operator-1=operator@acme,token-of-dealer-d001-x=dealer:D001@beta"
    done = loyalty("tokens", "list", where=tmp_path, dsn=None, env={"LOYALTY_API_TOKENS": spec})
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert [label for label, _ in rows] == ["operator@acme", "dealer:D001@beta"]
    assert all(fingerprint.startswith("sha256:") and len(fingerprint) == 23 for _, fingerprint in rows)
    assert "token-of" not in done.stdout + done.stderr
    assert "2 tokens from LOYALTY_API_TOKENS" in done.stderr

    refused = loyalty("tokens", "list", where=tmp_path, dsn=None, env={"LOYALTY_API_TOKENS": "short=operator@acme"})
    assert refused.returncode == 3 and "the server would refuse to start" in refused.stderr

    nothing = loyalty("tokens", "list", where=tmp_path, dsn=None)
    assert nothing.returncode == 0 and nothing.stdout == "" and "no tokens" in nothing.stderr
    assert not (tmp_path / "data").exists(), "listing creates no development tokens"


# --- serve and the projection worker: long-running, stopped by SIGTERM -----------------------------------------


def wait_until(condition, seconds: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, f"exited ({proc.returncode}) before {what}: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}: {log.read_text()[-3000:]}"
        time.sleep(0.1)


def start(*args: str, where: Path, dsn: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    environment = {**os.environ, "LOYALTY_DATA_DIR": str(where / "data"), "DATABASE_URL": dsn, **env}
    log = where / "output.log"
    with log.open("wb") as out:  # a file, not a pipe nobody reads while it runs
        return subprocess.Popen(
            [str(LOYALTY), *args], cwd=where, env=environment, stdout=out, stderr=subprocess.STDOUT
        ), log


def stopped(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_runs_the_server_until_sigterm(tmp_path: Path, fresh_dsn: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, log = start(
        "serve",
        "--address",
        f"127.0.0.1:{port}",
        where=tmp_path,
        dsn=fresh_dsn,
        env={"LOYALTY_API_TOKENS": "serve-test-token-0001=operator@acme", "SCHEDULER_INTERVAL": "0"},
    )

    def serving() -> bool:
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                # the HealthStub stub declares none of the methods __init__ sets
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)  # type: ignore[attr-defined]
                return reply.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False

    try:
        wait_until(serving, 60, "serving", proc, log)
    finally:
        status = stopped(proc)
    assert status == 0, log.read_text()[-3000:]
    assert f"serving gRPC on 127.0.0.1:{port}" in log.read_text()


def test_the_projection_worker_catches_up_and_stops_on_sigterm(tmp_path: Path, fresh_dsn: str) -> None:
    imported(tmp_path, fresh_dsn)
    proc, log = start("projections", where=tmp_path, dsn=fresh_dsn, env={"LOG_FORMAT": "text"})

    def caught_up() -> bool:
        rows = asyncio.run(query(fresh_dsn, "SELECT notification_id FROM projection_tracking"))
        return len(rows) == len(PROJECTIONS) and all(r[0] == 3 for r in rows)

    try:
        wait_until(caught_up, 60, "the read models caught up", proc, log)
    finally:
        status = stopped(proc)
    assert status == 0, log.read_text()[-3000:]
    chain = asyncio.run(query(fresh_dsn, "SELECT notification_id FROM event_chain ORDER BY 1"))
    assert [r[0] for r in chain] == [1, 2, 3]


def test_the_old_module_entry_points_run_the_same_command(tmp_path: Path, fresh_dsn: str) -> None:
    imported(tmp_path, fresh_dsn)
    env = {**os.environ, "DATABASE_URL": fresh_dsn, "LOYALTY_DATA_DIR": str(tmp_path / "data")}
    helped = subprocess.run(
        [sys.executable, "-m", "infrastructure.rebuild", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert helped.returncode == 0 and helped.stdout.startswith("usage: loyalty rebuild")
    exported = subprocess.run(
        [sys.executable, "-m", "infrastructure.export", "--up-to", "2", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["notification_id"] for line in exported.stdout.splitlines()] == [1, 2]
    assert UUID(json.loads(exported.stdout.splitlines()[0])["originator_id"]) == store_id_for("acme", "SH-001")
