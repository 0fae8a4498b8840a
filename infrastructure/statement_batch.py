"""A batch of events' writes sent a few statements at a time, not one round trip per statement.

For a read model whose writes for one event all touch rows of one key (its ``batch_key``: the member, the
order, the store) and whose statements read, inside themselves, only rows of that key. Its ``handle`` writes
through a recorder (:meth:`StatementBatch.writer`) instead of the connection; :meth:`StatementBatch.flush`
then sends what was recorded in rounds, each round's statements grouped by their text into one
``executemany`` (asyncpg pipelines the rows: one round trip per text, not per row).

Why the tables end up as ``handle`` one by one would leave them:

- statements of different keys touch different rows, so they commute;
- a key's own statements keep their order: a statement joins the round of the key's previous one when it
  runs after it there (the same text, appended behind it, or a text that comes later in that round), and
  otherwise goes to the next round.

So a batch of 500 ``PointsEarned`` for different members is four ``executemany`` (lot, lot move, totals,
statement line) instead of 2,000 round trips, and 500 bookings of one hot store, one statement each with the
same text, are one. A recorder has ``execute`` and ``executemany`` only: a handler that reads through its
connection cannot be batched this way (it fails loudly, as an ``AttributeError``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

Round = dict[str, tuple[int, list[Sequence[Any]]]]  # text -> (its place in the round, the rows)


class StatementBatch:
    def __init__(self) -> None:
        self._rounds: list[Round] = []
        self._last: dict[Hashable, tuple[int, int]] = {}  # key -> (round, place) of its latest statement

    def writer(self, key: Hashable) -> StatementWriter:
        return StatementWriter(self, key)

    def add(self, key: Hashable, sql: str, args: Sequence[Any]) -> None:
        r, place = self._last.get(key, (0, -1))
        group = self._round(r).get(sql)
        if group is not None and group[0] < place:  # that text runs before the key's latest here: next round
            r += 1
            group = self._round(r).get(sql)
        if group is None:
            round_ = self._rounds[r]
            group = round_[sql] = (len(round_), [])
        group[1].append(args)
        self._last[key] = (r, group[0])

    def _round(self, r: int) -> Round:
        if r == len(self._rounds):
            self._rounds.append({})
        return self._rounds[r]

    @property
    def statements(self) -> int:
        """How many statements are recorded (rows, not round trips)."""
        return sum(len(rows) for round_ in self._rounds for _, rows in round_.values())

    async def flush(self, conn: Any) -> int:
        """Send what was recorded, in order; the number of round trips it took. The batch is empty after."""
        trips = 0
        for round_ in self._rounds:
            for sql, (_, rows) in round_.items():
                if len(rows) == 1:
                    await conn.execute(sql, *rows[0])
                else:
                    await conn.executemany(sql, rows)
                trips += 1
        self._rounds.clear()
        self._last.clear()
        return trips


class StatementWriter:
    """What a batched ``handle`` gets instead of the connection: its writes are recorded under one key."""

    __slots__ = ("_batch", "_key")

    def __init__(self, batch: StatementBatch, key: Hashable) -> None:
        self._batch, self._key = batch, key

    async def execute(self, sql: str, *args: Any) -> None:
        self._batch.add(self._key, sql, args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self._batch.add(self._key, sql, row)
