"""Streaming exports: the event log as JSON Lines, any rows as CSV. Constant memory.

Both are async generators of ``bytes`` chunks, so a caller can stream them into
a gRPC response, an HTTP body or a file (:func:`write_stream`) without holding
the whole export. The event log is read a page at a time through
``select_notifications``.

JSON Lines: one object per event with ``notification_id``, ``originator_id``,
``originator_version``, ``topic``, ``timestamp`` and ``state`` (the decoded event
attributes other than those, as plain JSON: UUIDs and Decimals as strings,
datetimes as ISO 8601, enums as their values, value objects as objects). An
event that cannot be decoded (unknown topic, encrypted with a lost key) is
still exported, with ``state: null``, its raw bytes in ``state_base64`` and
``error``; it passes any time filter, because its time is unknown, and a
gap in an audit export would be worse than an extra line.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Mapper, Notification

from infrastructure.event_store import EventStore

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS
_HEADER_FIELDS = ("originator_id", "originator_version", "timestamp")


def json_default(obj: Any) -> Any:
    """What orjson does not write natively (it does UUID, datetime, date, enum, dataclass, tuple)."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if hasattr(obj, "__dict__"):
        return vars(obj)
    raise TypeError(f"cannot export {type(obj).__name__} as JSON")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=json_default, option=_JSON_OPTIONS)


def event_record(mapper: Mapper, n: Notification) -> dict[str, Any]:
    """One notification as an export record (plain Python values, not yet JSON)."""
    record: dict[str, Any] = {
        "notification_id": n.id,
        "originator_id": n.originator_id,
        "originator_version": n.originator_version,
        "topic": n.topic,
        "timestamp": None,
        "state": None,
    }
    try:
        event = mapper.to_domain_event(n)
    except Exception as e:
        record["state_base64"] = base64.b64encode(n.state).decode("ascii")
        record["error"] = f"{type(e).__name__}: {e}"
        return record
    state = dict(vars(event))
    for key in _HEADER_FIELDS:
        state.pop(key, None)
    record["timestamp"] = getattr(event, "timestamp", None)
    record["state"] = state
    return record


async def export_events_jsonl(
    store: EventStore,
    mapper: Mapper,
    start: int | None = None,
    stop: int | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    topics: Sequence[str] = (),
    page: int = 500,
    on_page: Callable[[int, int], None] | None = None,
) -> AsyncIterator[bytes]:
    """Events with ``start <= notification_id <= stop`` and ``since <= timestamp < until``.

    Event timestamps are the times given to commands, not commit times, so
    they need not grow with notification ids: a time range scans the id range
    and filters each event. Yields one chunk of lines per page; ``on_page`` is
    told each page's last position and the events exported from it (progress).
    """
    position, inclusive = start, True
    while True:
        batch = await store.select_notifications(position, page, stop=stop, topics=topics, inclusive_of_start=inclusive)
        lines = []
        for n in batch:
            record = event_record(mapper, n)
            ts = record["timestamp"]
            if ts is not None and ((since is not None and ts < since) or (until is not None and ts >= until)):
                continue
            lines.append(dumps(record))
        if lines:
            yield b"\n".join(lines) + b"\n"
        if on_page is not None and batch:
            on_page(batch[-1].id, len(lines))
        if len(batch) < page:
            return
        position, inclusive = batch[-1].id, False


# --- CSV -------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any, escape_formulas: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal, int, float)):
        return str(value)
    if not isinstance(value, str):
        return dumps(value).decode("utf-8")
    if escape_formulas and value.startswith(_FORMULA_STARTS):
        return "'" + value  # a spreadsheet would run it as a formula (CSV injection)
    return value


async def export_csv(
    rows: AsyncIterable[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    bom: bool = False,
    escape_formulas: bool = True,
    chunk_rows: int = 500,
) -> AsyncIterator[bytes]:
    """Rows as RFC 4180 CSV (UTF-8, CRLF), header first.

    ``columns`` defaults to the first row's keys; missing keys are empty cells.
    ``bom=True`` prefixes a UTF-8 BOM, which Excel needs to show Chinese text
    correctly. Text cells starting with ``= + - @`` get a leading ``'`` unless
    ``escape_formulas`` is off (keep it on for files people open in Excel).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header: Sequence[str] | None = columns
    pending = 0
    if bom:
        yield "\ufeff".encode()
    if header is not None:
        writer.writerow(header)
    async for row in rows:
        if header is None:
            header = list(row.keys())
            writer.writerow(header)
        writer.writerow([_cell(row.get(c), escape_formulas) for c in header])
        pending += 1
        if pending >= chunk_rows:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


async def write_stream(chunks: AsyncIterable[bytes], sink: Any) -> int:
    """Copy chunks into a binary file object or an ``asyncio.StreamWriter``; bytes written."""
    written = 0
    drain = getattr(sink, "drain", None)
    async for chunk in chunks:
        sink.write(chunk)
        written += len(chunk)
        if drain is not None:
            await drain()
    return written


# --- command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m infrastructure.export ...``: the same as ``loyalty export ...`` (infrastructure/cli.py)."""
    import sys

    from infrastructure.cli import main as loyalty

    return loyalty(["export", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
