"""``loyalty``: the deployment operator's command (installed by ``pip install``; see README "Operator command").

    loyalty serve            run the gRPC server (what ``python server.py`` does)
    loyalty migrate          apply pending schema migrations and create the read models
    loyalty rebuild          reset projections and replay the whole event log into them
    loyalty projections      run the projections as a separate worker process
    loyalty export           stream stored events as JSON Lines (for auditors)
    loyalty verify           recompute the tamper-evident hash chain over the event log
    loyalty import-stores    open a brand's cloud stores from a CSV file, all or nothing
    loyalty tokens           issue API tokens (token=role@brand) and list the configured ones

Each subcommand is a thin shell over the code the server and the old ``python -m`` modules use
(``server.run``, ``EventStore.open``'s migrations, ``rebuild.rebuild``, ``export_events_jsonl``,
``hash_chain.verify``, ``StoreService.import_many``, ``auth.parse_tokens``); those modules'
``python -m`` entry points now call this one. The command works on the database below the API
and sees every brand, like those modules did. It reads the server's configuration
(``DATABASE_URL``, ``LOYALTY_DATA_DIR``, ``POSTGRES_SCHEMA``, ``CIPHER_KEY``...): without
``DATABASE_URL`` it attaches to (or starts) the embedded PostgreSQL of the data directory.

Exit status, for scripts: 0 done; 1 failed (the database unreachable, an unexpected error);
2 usage (bad arguments or configuration: nothing was done); 3 the input or the data is bad
(``verify`` found the chain broken, ``import-stores`` found bad rows and wrote nothing,
``tokens list`` found entries the server would refuse); 130 interrupted. Progress of anything
long goes to stderr (``--quiet`` turns it off); results go to stdout. A failure is one line on
stderr; ``LOYALTY_DEBUG=1`` adds its traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
"""Verification failed, bad rows, bad token entries: the input or the stored data is wrong."""
EXIT_INTERRUPTED = 130

DEFAULT_PROJECTIONS = "infrastructure.projections:all_projections"


class UsageError(Exception):
    """Bad arguments or configuration: exit 2, nothing done."""


class Invalid(Exception):
    """The input or stored data is bad (reported already, or in the message): exit 3."""


# --- progress ----------------------------------------------------------------------------------


class Bar:
    """A ``\\r``-rewritten progress bar on stderr: ``label [#####.....] done/total  pct  rate/s``.

    Without a total it shows the count and rate only. Redrawn at most every ``every`` seconds
    (0.1 on a terminal, else 2) and once more, with a newline, by :meth:`close`. ``out=None``
    shows nothing.
    """

    WIDTH = 30

    def __init__(
        self, label: str, total: int | None, *, out: TextIO | None, unit: str = "", every: float | None = None
    ):
        self.label, self.total, self.out, self.unit = label, total, out, unit
        if every is None:  # a terminal redraws smoothly; a log file gets a line now and then
            every = 0.1 if out is not None and out.isatty() else 2.0
        self.every = every
        self.started = time.monotonic()
        self.done = 0
        self._shown = 0.0

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if self.out is None or (not force and now - self._shown < self.every):
            return
        self._shown = now
        rate = self.done / max(now - self.started, 1e-9)
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            filled = min(self.WIDTH, self.WIDTH * self.done // self.total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            text = (
                f"{self.label} [{bar}] {self.done}/{self.total}{unit} "
                f"{min(100.0, 100.0 * self.done / self.total):5.1f}% {rate:,.0f}/s"
            )
        else:
            text = f"{self.label} {self.done}{unit} {rate:,.0f}/s"
        self.out.write("\r" + text)
        self.out.flush()

    def close(self, done: int | None = None) -> None:
        self.update(self.done if done is None else done, force=True)
        if self.out is not None:
            self.out.write("\n")
            self.out.flush()


def _progress_out(args: argparse.Namespace) -> TextIO | None:
    return None if args.quiet else sys.stderr


def _say(args: argparse.Namespace, message: str) -> None:
    """A status line on stderr (not a result: those go to stdout)."""
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


# --- configuration and the database ------------------------------------------------------------


def _settings() -> Any:
    from infrastructure.config import load_settings

    try:
        return load_settings()
    except ValueError as e:
        raise UsageError(f"configuration: {e}") from None


@asynccontextmanager
async def _opened_store(brand: str | None) -> AsyncIterator[Any]:
    """The migrated event store of ``brand``'s tenant (or, without one, of the configured POSTGRES_SCHEMA of
    a database from before tenants), the embedded server started or attached, as the projection worker
    opens it. A brand that is not onboarded is a usage error."""
    from infrastructure.projection_runner import open_store_from_env

    _settings()  # a bad configuration is a usage error
    try:
        store, release = await open_store_from_env(brand)
    except SystemExit as e:  # open_brand_store: the brand is not onboarded
        raise UsageError(str(e)) from None
    try:
        yield store
    finally:
        await store.close()
        release()


# --- serve -------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    if args.address:
        os.environ["GRPC_ADDRESS"] = args.address
    if args.workers is not None:
        os.environ["GRPC_WORKERS"] = str(args.workers)
    _settings()  # a bad configuration is a usage error, reported before anything starts
    import server

    server.run()
    return EXIT_OK


# --- migrate -----------------------------------------------------------------------------------


async def _migrate(args: argparse.Namespace) -> int:
    from infrastructure.projection_runner import ProjectionRunner
    from infrastructure.projections import all_projections

    async with _opened_store(args.brand) as store:
        projections = all_projections(store)
        await ProjectionRunner(store, projections, store.mapper).setup()
        rows = await store.pool.fetch(
            f"SELECT version, name FROM {store.names.q('schema_migrations')} ORDER BY version"
        )
    applied = set(store.migrations_applied)
    for version, name in rows:
        print(f"{version}\t{name}\t{'applied now' if version in applied else 'already applied'}")
    _say(
        args,
        f"schema at version {rows[-1][0] if rows else 0} ({len(applied)} applied now); "
        f"read models ready: {', '.join(p.name for p in projections)}",
    )
    return EXIT_OK


# --- rebuild and the projection worker -----------------------------------------------------------


async def _rebuild(args: argparse.Namespace) -> int:
    from infrastructure.projection_runner import load_factories
    from infrastructure.rebuild import rebuild

    factories = _factories(args.factories, load_factories)
    async with _opened_store(args.brand) as store:
        projections = [p for f in factories for p in f(store)]
        if args.list:
            for p in projections:
                print(p.name)
            return EXIT_OK
        chosen = [p for p in projections if not args.only or p.name in args.only]
        if missing := set(args.only) - {p.name for p in chosen}:
            raise UsageError(
                f"no such projection: {', '.join(sorted(missing))} "
                f"(there are: {', '.join(p.name for p in projections)})"
            )
        for p in chosen:
            stats = await rebuild(store, p, store.mapper, batch_size=args.batch_size, out=_progress_out(args))
            print(f"{stats.name}\t{stats.events} events\t{stats.seconds:.1f} s\tposition {stats.position or 0}")
    return EXIT_OK


def _factories(specs: Sequence[str], load: Callable[[Sequence[str]], list[Any]]) -> list[Any]:
    try:
        return load(list(specs) or [DEFAULT_PROJECTIONS])
    except (SystemExit, ImportError, AttributeError) as e:
        raise UsageError(f"cannot load projection factories {list(specs)}: {e}") from None


def cmd_projections(args: argparse.Namespace) -> int:
    from infrastructure.logging import configure_logging
    from infrastructure.projection_runner import _registered_brands, _worker, load_factories

    _factories(args.factories, load_factories)  # a typo is a usage error before the database starts
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    brands: list[str | None] = list(args.brand)
    if args.all_brands:
        brands += [b for b in asyncio.run(_registered_brands()) if b not in brands]
    elif not brands:
        brands = [None]  # the configured schema of a database from before tenants
    asyncio.run(
        _worker(
            list(args.factories) or [DEFAULT_PROJECTIONS],
            args.batch_size,
            brands,
            args.lease_retry,
            all_brands=args.all_brands,
        )
    )
    return EXIT_OK


def cmd_tenants(args: argparse.Namespace) -> int:
    from infrastructure import tenants

    return tenants.main(args.tenant_args)


# --- export ------------------------------------------------------------------------------------


def _utc_time(text: str) -> datetime:
    """ISO 8601; a time without an offset is UTC (as every time here)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def _export(args: argparse.Namespace) -> int:
    from infrastructure.export import export_events_jsonl, write_stream

    target = Path(args.output) if args.output and args.output != "-" else None
    partial = target.with_name(target.name + ".partial") if target else None
    async with _opened_store(args.brand) as store:
        head = await store.max_notification_id() or 0
        last = min(head, args.up_to) if args.up_to is not None else head
        bar = Bar("export", max(0, last - (args.after or 0)) or None, out=_progress_out(args), unit="positions")
        exported = 0

        def on_page(position: int, count: int) -> None:
            nonlocal exported
            exported += count
            bar.update(position - (args.after or 0))

        chunks = export_events_jsonl(
            store,
            store.mapper,
            None if args.after is None else args.after + 1,
            args.up_to,
            since=args.since,
            until=args.until,
            topics=args.topic,
            on_page=on_page,
        )
        if partial is None:
            await write_stream(chunks, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            assert target is not None
            try:
                with partial.open("wb") as sink:
                    await write_stream(chunks, sink)
                partial.replace(target)  # a failed export leaves no half-written file under the name
            finally:
                partial.unlink(missing_ok=True)
        bar.close()
    _say(args, f"exported {exported} events" + (f" to {target}" if target else ""))
    return EXIT_OK


# --- verify ------------------------------------------------------------------------------------


def _anchor(text: str) -> Any:
    from infrastructure.hash_chain import ChainHead

    try:
        return ChainHead.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an anchor is POSITION:HEX as printed by verify, got {text!r}") from None


async def _verify(args: argparse.Namespace) -> int:
    from infrastructure import hash_chain

    async with _opened_store(args.brand) as store:
        chained = await hash_chain.head(store)
        bar = Bar("verify", chained.notification_id if chained else None, out=_progress_out(args), unit="positions")
        result = await hash_chain.verify(
            store, anchor=args.anchor, on_progress=lambda _, position: bar.update(position)
        )
        bar.close(result.head.notification_id if result.head else 0)
    head = str(result.head) if result.head else "none"
    if args.json:
        import orjson

        print(
            orjson.dumps(
                {
                    "ok": result.ok,
                    "checked": result.checked,
                    "unchained": result.unchained,
                    "first_broken_position": result.first_broken_position,
                    "reason": result.reason,
                    "head": None if result.head is None else str(result.head),
                }
            ).decode()
        )
    elif result.ok:
        print(f"ok: {result.checked} events verified; {result.unchained} not chained yet; head {head}")
    else:
        print(
            f"BROKEN at position {result.first_broken_position}: {result.reason}; "
            f"{result.checked} events verified before it; last good link {head}"
        )
    return EXIT_OK if result.ok else EXIT_INVALID


# --- import-stores -----------------------------------------------------------------------------

CSV_COLUMNS = {
    "code": True,
    "name": True,
    "dealer": True,
    "latitude": True,
    "longitude": True,
    "coordinate_system": True,
    "service_radius_m": True,
    "modes": True,
    "hours": False,
    "time_zone": False,
    "daily_capacity": False,
    "online_orders_enabled": False,
}
"""The import file's columns (any order, a header row first) and whether each must be present."""
_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n"}


class _Bad(Exception):
    """One cell cannot be read: ``column: message``."""


@dataclass
class _Row:
    lines: str
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    spec: Any = None


def _cell(row: _Row, column: str, read: Callable[[str], Any], default: Any = None) -> Any:
    raw = (row.values.get(column) or "").strip()
    if not raw:
        if CSV_COLUMNS[column]:
            row.errors.append(f"{column}: required (FIELD_REQUIRED)")
        return default
    try:
        return read(raw)
    except _Bad as e:
        row.errors.append(f"{column}: {e}")
    except Exception as e:
        row.errors.append(f"{column}: {_explain(e)}")
    return default


def _explain(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    message = getattr(error, "message", None) or str(error)
    return f"{message} ({reason})" if reason else message


def _number(kind: type, what: str) -> Callable[[str], Any]:
    def read(raw: str) -> Any:
        try:
            return kind(raw)
        except ValueError:
            raise _Bad(f"{what}, got {raw!r}") from None

    return read


def _modes(raw: str) -> tuple[Any, ...]:
    from domain.store_values import FulfilmentMode

    names = [m.strip().upper() for m in raw.replace("|", ";").split(";") if m.strip()]
    if unknown := [m for m in names if m not in FulfilmentMode.__members__]:
        raise _Bad(f"unknown mode {', '.join(unknown)} (DELIVERY, PICKUP or IN_STORE, separated by ;)")
    return tuple(FulfilmentMode[m] for m in dict.fromkeys(names))


def _minute(text: str) -> int:
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise _Bad(f"a time is HH:MM, got {text.strip()!r}")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise _Bad(f"no such time of day: {text.strip()!r}")
    return value


def _hour_entries(raw: str) -> list[SimpleNamespace]:
    """``1-5 09:00-21:00; 6-7 10:00-02:00``: weekdays 1 (Monday) to 7, a close at or before the open
    is past midnight. The entries are what the API's ``hours`` carries (weekday, open and close minute)."""
    entries = []
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        days, _, times = part.partition(" ")
        first, _, last = days.partition("-")
        opens, dash, closes = times.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()) or not dash:
            raise _Bad(f"hours are entries like '1-5 09:00-21:00' separated by ;, got {part!r}")
        start, end = int(first), int(last or first)
        if not 1 <= start <= end <= 7:
            raise _Bad(f"weekdays are 1 (Monday) to 7 (Sunday), got {days!r}")
        open_minute, close_minute = _minute(opens), _minute(closes)
        if close_minute <= open_minute:
            close_minute += 24 * 60
        entries += [
            SimpleNamespace(weekday=d, open_minute=open_minute, close_minute=close_minute)
            for d in range(start, end + 1)
        ]
    return entries


def _flag(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise _Bad(f"true or false, got {raw!r}")


def _dealer(raw: str) -> str:
    from infrastructure.api import names

    return names.dealer_id(raw if raw.startswith("dealers/") else f"dealers/{raw}", field="dealer")


def _read_spec(row: _Row, brand: str, at: datetime) -> None:
    """The row's StoreSpec, checked by the rules OpenCloudStore applies (the API's conversions, then
    the domain's ``CloudStore.open`` on a throwaway store); problems go to ``row.errors``."""
    from application.stores import StoreSpec, store_id_for
    from domain.cloud_store import CloudStore
    from domain.geo import CoordSystem, Location
    from infrastructure.api import convert

    code = _cell(row, "code", str)
    name = _cell(row, "name", str)
    dealer = _cell(row, "dealer", _dealer)
    lat = _cell(row, "latitude", _number(float, "a number of degrees"))
    lng = _cell(row, "longitude", _number(float, "a number of degrees"))

    def system(raw: str) -> CoordSystem:
        if raw.upper() not in CoordSystem.__members__:
            raise _Bad(
                f"GCJ02 (mini-program and Chinese map SDKs), BD09 or WGS84, got {raw!r} (COORDINATE_SYSTEM_REQUIRED)"
            )
        return CoordSystem[raw.upper()]

    coordinate_system = _cell(row, "coordinate_system", system)
    radius = _cell(
        row,
        "service_radius_m",
        lambda raw: convert.non_negative(_number(int, "a whole number of metres")(raw), "service_radius_m"),
    )
    modes = _cell(row, "modes", _modes)
    if modes == ():
        row.errors.append("modes: a store offers at least one fulfilment mode (FIELD_REQUIRED)")
    errors_before = len(row.errors)
    entries = _cell(row, "hours", _hour_entries, [])
    hours = None
    if len(row.errors) == errors_before:
        try:  # the API's rules: no entries is always open, a fixed-offset zone (default Asia/Shanghai)
            hours = convert.hours(entries, (row.values.get("time_zone") or "").strip())
        except Exception as e:
            column = "time_zone" if getattr(e, "reason", "") == "INVALID_TIME_ZONE" else "hours"
            row.errors.append(f"{column}: {_explain(e)}")
    capacity = _cell(
        row,
        "daily_capacity",
        lambda raw: convert.non_negative(_number(int, "a whole number of orders per day")(raw), "daily_capacity"),
        0,
    )
    online = _cell(row, "online_orders_enabled", _flag, StoreSpec.online_orders_enabled)
    location = None
    if None not in (lat, lng, coordinate_system):
        try:
            location = Location(lat, lng, coordinate_system)
        except Exception as e:
            row.errors.append(f"latitude/longitude: {_explain(e)}")
    if row.errors:
        return
    assert location is not None and hours is not None  # else an error was recorded
    spec = StoreSpec(
        code=code,
        name=name,
        dealer_id=dealer,
        location=location,
        service_radius_m=radius,
        modes=modes,
        hours=hours,
        daily_capacity=capacity,
        online_orders_enabled=online,
    )
    try:  # the domain's own rules, exactly as StoreService opens it (pure: nothing is stored)
        CloudStore.open(
            code=spec.code,
            name=spec.name,
            location=spec.location,
            service_radius_m=spec.service_radius_m,
            modes=spec.modes,
            dealer_id=spec.dealer_id,
            hours=spec.hours,
            brand=brand,
            online_orders_enabled=spec.online_orders_enabled,
            daily_capacity=spec.daily_capacity,
            at=at,
            id=store_id_for(brand, spec.code),
        )
    except Exception as e:
        row.errors.append(_explain(e))
        return
    row.spec = spec


def read_store_rows(text: TextIO, *, delimiter: str = ",") -> tuple[list[str], list[_Row]]:
    """The file's problems with its header (line 1) and its rows with their line numbers."""
    reader = csv.reader(text, delimiter=delimiter)
    header_problems: list[str] = []
    try:
        header = next(reader, None)
    except csv.Error as e:
        return [f"line {reader.line_num}: {e}"], []
    if header is None:
        return ["the file is empty: a header row names the columns (README, Operator command)"], []
    header = [h.strip().lower() for h in header]
    if missing := [c for c, required in CSV_COLUMNS.items() if required and c not in header]:
        header_problems.append(f"line 1: missing columns: {', '.join(missing)}")
    if unknown := [h for h in header if h not in CSV_COLUMNS]:
        header_problems.append(
            f"line 1: unknown columns: {', '.join(unknown)} (the columns are {', '.join(CSV_COLUMNS)})"
        )
    if len(set(header)) != len(header):
        header_problems.append("line 1: a column is named twice")
    rows: list[_Row] = []
    previous = reader.line_num
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as e:
            header_problems.append(f"line {reader.line_num}: {e}")
            break
        if cells is None:
            break
        first, previous = previous + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue  # a blank line
        lines = f"line {first}" if first == previous else f"lines {first}-{previous}"
        row = _Row(lines, dict(zip(header, cells, strict=False)))
        if len(cells) != len(header):
            row.errors.append(f"{len(cells)} fields, the header has {len(header)}")
        rows.append(row)
    return header_problems, rows


async def _import_stores(args: argparse.Namespace) -> int:
    from application.auth import is_brand
    from application.clock import SystemClock
    from application.programmes import ProgrammeCatalog
    from application.repository import Repository
    from application.stores import StoreService, store_id_for
    from application.unit_of_work import CommandRunner
    from domain.errors import DomainError
    from domain.loyalty_args import check_brand

    if not is_brand(args.brand):  # the brands tokens can name: no API caller could reach another
        raise UsageError(
            f"--brand: a brand is 1-64 characters: a-z, 0-9, '_' and '-', starting with a-z or 0-9; got {args.brand!r}"
        )
    check_brand(args.brand)
    settings = _settings()
    source = "standard input" if args.file == "-" else args.file
    try:
        if args.file == "-":
            text = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="").read()
        else:
            text = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"no such file: {args.file}") from None
    except UnicodeDecodeError as e:
        _report(source, [f"the file is not UTF-8 text (byte {e.start}): save it as CSV UTF-8"], 0)
        raise Invalid from None
    problems, rows = read_store_rows(io.StringIO(text, newline=""), delimiter=args.delimiter)
    if not rows and not problems:
        problems.append("no stores in the file: one row per store after the header")
    clock = SystemClock()
    now = clock.now()
    validating = Bar("validate", len(rows), out=_progress_out(args), unit="rows")
    first_line: dict[str, str] = {}
    for i, row in enumerate(rows, 1):
        if not row.errors:
            _read_spec(row, args.brand, now)
        if row.spec is not None and (earlier := first_line.setdefault(row.spec.code, row.lines)) != row.lines:
            row.errors.append(f"code: {row.spec.code} repeats {earlier} (DUPLICATE_CODE)")
        validating.update(i)
    validating.close()
    async with _opened_store(args.brand) as store:
        specs = [r.spec for r in rows if r.spec is not None and not r.errors]
        ids = [store_id_for(args.brand, s.code) for s in specs]
        existing = {
            r[0]
            for r in await store.pool.fetch(
                f"SELECT DISTINCT originator_id FROM {store.events} WHERE originator_id = ANY($1::uuid[])", ids
            )
        }
        for row in rows:
            if row.spec is not None and store_id_for(args.brand, row.spec.code) in existing:
                row.errors.append(
                    f"code: store code {row.spec.code} is already open in brand {args.brand} (STORE_CODE_EXISTS)"
                )
        bad = [f"{r.lines}: {e}" for r in rows for e in r.errors]
        if problems or bad:
            _report(source, problems + bad, len({r.lines for r in rows if r.errors}))
            raise Invalid
        if args.dry_run:
            _say(args, f"{source}: {len(specs)} stores are valid for brand {args.brand}; nothing written (--dry-run)")
            return EXIT_OK
        repository = Repository(
            store,
            store.mapper,
            snapshot_interval=settings.snapshot_interval,
            cache_size=len(specs) + 100,
            cache_bytes=2**40,
        )
        runner = CommandRunner(repository, lock_timeout=settings.lock_timeout_s)
        service = StoreService(runner, clock, ProgrammeCatalog(runner, clock))
        opening = Bar("open", len(specs), out=_progress_out(args), unit="stores")
        try:
            opened = await service.import_many(args.brand, specs, limit=None, on_opened=opening.update)
        except DomainError as e:  # opened meanwhile by someone else: nothing of this file was written
            opening.close()
            _report(source, [_explain(e)], 0)
            raise Invalid from None
        opening.close()
    for cloud_store in opened:
        print(f"{cloud_store.code}\tcloudStores/{cloud_store.id}")
    _say(args, f"{source}: opened {len(opened)} stores for brand {args.brand}")
    return EXIT_OK


def _report(source: str, problems: list[str], bad_rows: int) -> None:
    rows = f"{bad_rows} bad row{'s' if bad_rows != 1 else ''}; " if bad_rows else ""
    print(f"{source}: {rows}nothing was imported", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    sys.stderr.flush()


# --- tokens ------------------------------------------------------------------------------------


def cmd_tokens_issue(args: argparse.Namespace) -> int:
    from infrastructure.api.auth import new_token, parse_tokens

    entries = [f"{new_token()}={who}" for who in args.who]
    try:
        parse_tokens(",".join(entries))  # exactly the server's rules for an entry
    except ValueError as e:
        raise UsageError(
            str(e)
            .removeprefix("LOYALTY_API_TOKENS: ")
            .replace("LOYALTY_API_TOKENS entries are token=role@brand", "tokens are issued for role@brand")
        ) from None
    if args.append:
        current = os.environ.get("LOYALTY_API_TOKENS", "").strip().strip(",")
        if current:
            try:
                parse_tokens(current)
            except ValueError as e:
                raise Invalid(f"LOYALTY_API_TOKENS is already invalid: {e}") from None
        print(",".join(filter(None, [current, *entries])))
    else:
        for entry in entries:
            print(entry)
    return EXIT_OK


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from infrastructure.api.auth import development_tokens, parse_tokens, principal_label

    spec = os.environ.get("LOYALTY_API_TOKENS", "")
    source = "LOYALTY_API_TOKENS"
    if not spec.strip():
        path = _settings().data_dir / "api-tokens.json"
        if not path.exists():
            _say(
                args,
                f"no tokens: LOYALTY_API_TOKENS is unset and {path} does not exist yet "
                "(the server writes development tokens there at its first start)",
            )
            return EXIT_OK
        spec, source = development_tokens(path.parent), f"{path} (development tokens)"
    try:
        tokens = parse_tokens(spec)
    except ValueError as e:
        raise Invalid(f"{source}: {e}; the server would refuse to start") from None
    _say(args, f"{len(tokens)} tokens from {source} (SHA-256 fingerprints, never the tokens):")
    for token, principal in sorted(tokens.items(), key=lambda t: (t[1].brand, principal_label(t[1]))):
        print(f"{principal_label(principal)}\tsha256:{hashlib.sha256(token.encode()).hexdigest()[:16]}")
    return EXIT_OK


# --- the parser --------------------------------------------------------------------------------


def _async(command: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return asyncio.run(command(args))

    return run


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _one_character(text: str) -> str:
    text = "\t" if text == "\\t" else text
    if len(text) != 1 or text in '\r\n"':
        raise argparse.ArgumentTypeError(f"one character (\\t for a tab), got {text!r}")
    return text


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


EPILOG = (
    "exit status: 0 done, 1 failed, 2 usage (bad arguments or configuration), "
    "3 bad input or data (verification failed, bad rows, bad token entries), 130 interrupted"
)


BRAND_HELP = (
    "the brand (tenant) to work on; without it, the configured POSTGRES_SCHEMA of a database from before tenants"
)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress or status lines on stderr")
    top = argparse.ArgumentParser(
        prog="loyalty",
        description="Operate a loyalty engine deployment: serve, migrate, rebuild, export, "
        "verify, import stores, issue tokens. Configured by the server's environment variables "
        "(DATABASE_URL, LOYALTY_DATA_DIR, ...; see README).",
        epilog=EPILOG,
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str, func: Callable[[argparse.Namespace], int], description: str = "") -> Any:
        p = sub.add_parser(name, help=help_, description=description or help_, parents=[common], epilog=EPILOG)
        p.set_defaults(func=func)
        return p

    p = add(
        "serve",
        "run the gRPC server (as python server.py)",
        cmd_serve,
        "Run the gRPC server until SIGTERM or SIGINT, exactly as python server.py does; "
        "GRPC_WORKERS>1 runs that many worker processes.",
    )
    p.add_argument("--address", help="listen here (overrides GRPC_ADDRESS), e.g. 0.0.0.0:50051")
    p.add_argument("--workers", type=_positive, help="server processes (overrides GRPC_WORKERS)")

    p = add(
        "migrate",
        "apply pending schema migrations and create the read models",
        _async(_migrate),
        "Apply the pending schema migrations (each once, under an advisory lock) and create the read "
        "models' tables; prints every migration and whether it was applied now. The server does the same "
        "at start; run it before starting several servers on a new database.",
    )
    p.add_argument("--brand", help=BRAND_HELP)

    p = add(
        "rebuild",
        "reset projections and replay the whole event log into them",
        _async(_rebuild),
        "Reset projections and replay the whole event log into them, with a progress line per "
        "projection; a running server keeps working meanwhile (they take turns batch by batch).",
    )
    p.add_argument(
        "factories",
        nargs="*",
        metavar="MODULE:FACTORY",
        help=f"callables returning projections for a store (default {DEFAULT_PROJECTIONS})",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="rebuild just this projection (repeatable); --list shows the names",
    )
    p.add_argument("--list", action="store_true", help="list the projections' names and exit")
    p.add_argument(
        "--batch-size", type=_positive, default=None, help="events per batch and transaction (20000 in bulk, else 1000)"
    )
    p.add_argument("--brand", help=BRAND_HELP)

    p = add(
        "projections",
        "run the projections as a separate worker process",
        cmd_projections,
        "Feed the read models from the event log until SIGTERM or SIGINT (the server's worker 0 "
        "does this too; the two take turns).",
    )
    p.add_argument(
        "factories",
        nargs="*",
        metavar="MODULE:FACTORY",
        help=f"callables returning projections for a store (default {DEFAULT_PROJECTIONS})",
    )
    p.add_argument("--batch-size", type=_positive, default=500, help="events per batch (default 500)")
    p.add_argument(
        "--brand",
        action="append",
        default=[],
        help="a brand's tenant (repeatable); without one, "
        "the configured POSTGRES_SCHEMA of a database from before tenants",
    )
    p.add_argument("--all-brands", action="store_true", help="every registered brand, and those onboarded later")
    p.add_argument(
        "--lease-retry",
        type=float,
        default=1.0,
        help="seconds between a standby's tries to take over a projection (one leader per projection "
        "and brand across every process)",
    )

    p = add(
        "export",
        "stream stored events as JSON Lines",
        _async(_export),
        "Stream the stored events as JSON Lines (one object per event: notification_id, originator_id, "
        "originator_version, topic, timestamp, state) in constant memory, every brand's.",
    )
    p.add_argument("--after", type=_non_negative, default=None, metavar="N", help="first position, exclusive")
    p.add_argument("--up-to", type=_non_negative, default=None, metavar="N", help="last position, inclusive")
    p.add_argument(
        "--since",
        type=_utc_time,
        default=None,
        metavar="TIME",
        help="event time, inclusive (ISO 8601; without an offset: UTC)",
    )
    p.add_argument("--until", type=_utc_time, default=None, metavar="TIME", help="event time, exclusive")
    p.add_argument("--topic", action="append", default=[], help="only events of this topic (repeatable)")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write here (a file appears only when complete) instead of standard output",
    )
    p.add_argument("--brand", help=BRAND_HELP)

    p = add(
        "verify",
        "verify the hash chain over the event log",
        _async(_verify),
        "Recompute the SHA-256 hash chain from the stored events and report the first broken position "
        "(exit 3). Prints the head link (POSITION:HEX): keep it off-site and pass it back with --anchor "
        "to also catch a rewritten or truncated chain. Events after the chain's head are not an error.",
    )
    p.add_argument("--anchor", type=_anchor, metavar="POSITION:HEX", help="a head printed by an earlier verify")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a sentence")
    p.add_argument("--brand", help=BRAND_HELP)

    p = add(
        "import-stores",
        "open a brand's cloud stores from a CSV file, all or nothing",
        _async(_import_stores),
        "Open one brand's cloud stores from a CSV file (UTF-8, a header row; columns: "
        + ", ".join(f"{c}{'' if required else ' (optional)'}" for c, required in CSV_COLUMNS.items())
        + "). Every row is checked by OpenCloudStore's rules first; any bad row is reported with its "
        "line number and nothing is written (exit 3). Otherwise all stores open in one transaction and "
        "each is printed as CODE<tab>cloudStores/ID. See README, Operator command.",
    )
    p.add_argument("file", metavar="FILE", help="the CSV file, or - for standard input")
    p.add_argument("--brand", required=True, help="the brand the stores belong to (onboarded: loyalty tenants)")
    p.add_argument("--dry-run", action="store_true", help="check every row (and existing codes), write nothing")
    p.add_argument(
        "--delimiter",
        default=",",
        type=_one_character,
        help="field separator, one character (default ,; \\t for a tab)",
    )

    p = sub.add_parser(
        "tenants",
        help="onboard brands (a schema each), list, relocate them, split a shared schema into theirs",
        epilog=EPILOG,
        description="Brands as tenants: onboard BRAND [--dsn] [--replica-dsn] [--schema], list, "
        "relocate, split [--schema] [--dry-run] [--assign ID=BRAND] (see README, Deploying). "
        "Arguments go to python -m infrastructure.tenants.",
        add_help=False,
    )
    p.add_argument("tenant_args", nargs=argparse.REMAINDER, metavar="ACTION ...")
    p.set_defaults(func=cmd_tenants)

    tokens = sub.add_parser(
        "tokens",
        help="issue API tokens and list the configured ones",
        epilog=EPILOG,
        description="API tokens are token=role@brand entries of LOYALTY_API_TOKENS.",
    )
    tsub = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    p = tsub.add_parser(
        "issue",
        help="print new random tokens as token=role@brand entries",
        parents=[common],
        epilog=EPILOG,
        description="Print a new random token for each ROLE@BRAND as an entry of "
        "LOYALTY_API_TOKENS (roles: miniprogram, operator, auditor, dealer:ID). Nothing is "
        "stored: add the entries to the servers' LOYALTY_API_TOKENS and restart them.",
    )
    p.add_argument("who", nargs="+", metavar="ROLE@BRAND", help="e.g. operator@acme or dealer:D001@acme")
    p.add_argument(
        "--append",
        action="store_true",
        help="print the whole new LOYALTY_API_TOKENS: the current value and the new entries",
    )
    p.set_defaults(func=cmd_tokens_issue)
    p = tsub.add_parser(
        "list",
        help="list the configured tokens' roles and brands",
        parents=[common],
        epilog=EPILOG,
        description="List the tokens the server would accept, from "
        "LOYALTY_API_TOKENS or else the data directory's development tokens: role@brand and a "
        "SHA-256 fingerprint each, never a token. Exit 3 if an entry would stop the server.",
    )
    p.set_defaults(func=cmd_tokens_list)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["tenants"]:  # its own parser, --help included (python -m infrastructure.tenants)
        return cmd_tenants(argparse.Namespace(tenant_args=argv[1:]))
    args = parser().parse_args(argv)  # exits 2 on a usage error, 0 after --help
    name = " ".join(filter(None, ("loyalty", args.command, getattr(args, "tokens_command", None))))
    if args.command not in ("serve", "projections"):  # those log as the server does
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except UsageError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Invalid as e:
        if str(e):
            print(f"{name}: {e}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # a clear line and exit 1, not a traceback (LOYALTY_DEBUG=1: the traceback too)
        print(f"{name}: failed: {type(e).__name__}: {e}", file=sys.stderr)
        if os.environ.get("LOYALTY_DEBUG"):
            raise
        return EXIT_FAILURE


def run() -> None:
    """The ``loyalty`` console script."""
    raise SystemExit(main())


if __name__ == "__main__":
    run()
