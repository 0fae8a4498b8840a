"""Stock levels and drop results as SQL read models (reporting, dashboards, exports).

``stock_levels``: one row per (store, SKU), fed from ``StoreStock``'s own events, so each
figure is what the aggregate holds: on-hand, reserved (held for online orders), consumed
(fulfilled online plus till sales), till sales, and the walk-in protection; protected and
available-online units are derived the way the aggregate derives them
(``stock_levels_view``). ``drop_offers``: one row per offer of a drawn drop, with its state
(WON, CLAIMED, RELEASED: its order was cancelled, LAPSED) and, while CLAIMED, the order holding its
units (``order_id``, as ``Offer.holding_order``), fed from ``Drop``'s events.

``stock_holds`` (kept by the ``stock_levels`` projection): one row per reservation not yet paid
(committed holds never expire) nor released or consumed, with its expiry; the scheduler reads it
to sweep expired holds (``stocks_with_expired_holds``), as it reads ``drop_offers`` for offers past
their purchase window (``drops_with_lapsed_offers``). Both only say where to look: the sweep runs
as a command on the aggregate, which decides (and a second process's sweep finds nothing to do).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.drop import Drop
from domain.stock import StoreStock

STOCK_EVENTS = (
    StoreStock.Opened,
    StoreStock.Adjusted,
    StoreStock.Reserved,
    StoreStock.Committed,
    StoreStock.Released,
    StoreStock.Consumed,
    StoreStock.SoldInStore,
    StoreStock.ProtectionSet,
)
DROP_EVENTS = (Drop.Drawn, Drop.Claimed, Drop.ClaimReleased, Drop.PassedOn)


class StockLevels:
    name = "stock_levels"
    topics = tuple(get_topic(e) for e in STOCK_EVENTS)

    async def setup(self, conn: Any) -> None:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS stock_levels (
                stock_id uuid PRIMARY KEY, brand text NOT NULL, store_id uuid NOT NULL, sku text NOT NULL,
                on_hand bigint NOT NULL DEFAULT 0, reserved bigint NOT NULL DEFAULT 0,
                consumed bigint NOT NULL DEFAULT 0, sold_in_store bigint NOT NULL DEFAULT 0,
                floor_units bigint NOT NULL DEFAULT 0, share_bp integer NOT NULL DEFAULT 0,
                version bigint NOT NULL, updated_at timestamptz NOT NULL)"""
        )
        await conn.execute("CREATE INDEX IF NOT EXISTS stock_levels_store ON stock_levels (store_id, sku)")
        await conn.execute(
            """CREATE OR REPLACE VIEW stock_levels_view AS
               SELECT *, LEAST(on_hand, GREATEST(floor_units, (on_hand * share_bp + 9999) / 10000)) AS protected,
                      GREATEST(0, on_hand - reserved
                               - LEAST(on_hand, GREATEST(floor_units, (on_hand * share_bp + 9999) / 10000)))
                        AS available_online
               FROM stock_levels"""
        )
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS stock_holds (
                stock_id uuid NOT NULL, order_id uuid NOT NULL, expires_at timestamptz NOT NULL,
                PRIMARY KEY (stock_id, order_id))"""
        )
        await conn.execute("CREATE INDEX IF NOT EXISTS stock_holds_expiry ON stock_holds (expires_at)")

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP VIEW IF EXISTS stock_levels_view")
        await conn.execute("DROP TABLE IF EXISTS stock_levels")
        await conn.execute("DROP TABLE IF EXISTS stock_holds")

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        sid, version, at = event.originator_id, event.originator_version, event.at
        if isinstance(event, StoreStock.Opened):
            await conn.execute(
                """INSERT INTO stock_levels (stock_id, brand, store_id, sku, version, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
                sid,
                event.brand,
                event.store_id,
                event.sku,
                version,
                at,
            )
            return
        if isinstance(event, StoreStock.Reserved):
            await conn.execute(
                "INSERT INTO stock_holds VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                sid,
                event.order_id,
                event.expires_at,
            )
        elif isinstance(event, (StoreStock.Committed, StoreStock.Released, StoreStock.Consumed)):
            await conn.execute("DELETE FROM stock_holds WHERE stock_id = $1 AND order_id = $2", sid, event.order_id)
        change = {
            StoreStock.Adjusted: ("on_hand = on_hand + $4", lambda e: e.delta),
            StoreStock.Reserved: ("reserved = reserved + $4", lambda e: e.qty),
            StoreStock.Released: ("reserved = reserved - $4", lambda e: e.qty),
            StoreStock.Consumed: (
                "reserved = reserved - $4, on_hand = on_hand - $4, consumed = consumed + $4",
                lambda e: e.qty,
            ),
            StoreStock.SoldInStore: (
                "on_hand = on_hand - $4, consumed = consumed + $4, sold_in_store = sold_in_store + $4",
                lambda e: e.qty,
            ),
            StoreStock.Committed: ("on_hand = on_hand + 0 * $4", lambda e: 0),  # the hold stays; only the version
        }.get(type(event))
        if change is not None:
            sets, amount = change
            await conn.execute(
                f"UPDATE stock_levels SET {sets}, version = $2, updated_at = $3 WHERE stock_id = $1 AND version < $2",
                sid,
                version,
                at,
                amount(event),
            )
        elif isinstance(event, StoreStock.ProtectionSet):
            await conn.execute(
                """UPDATE stock_levels SET floor_units = $4, share_bp = $5, version = $2, updated_at = $3
                   WHERE stock_id = $1 AND version < $2""",
                sid,
                version,
                at,
                event.protection.floor_units,
                event.protection.share_bp,
            )

    async def handle_many(self, conn: Any, events: list[Any], notification_ids: Sequence[int] = ()) -> None:
        """A batch of events at once, as ``handle`` would one by one (the runner prefers this): three statements
        per batch whatever its size, not two per reservation. Per stock, its events' changes are summed into one
        row update guarded by the batch's first version (its events are consecutive versions of one aggregate,
        so they apply together or not at all); per hold, the inserts and deletes reduce to the same end state."""
        opened: list[tuple[Any, ...]] = []
        change: dict[UUID, list[Any]] = {}  # stock id -> on_hand, reserved, consumed, sold, protection, first v, v, at
        holds: dict[tuple[UUID, UUID], list[Any]] = {}  # (stock, order) -> [deleted in the batch, insert expiry]
        for event in events:
            sid, version, at = event.originator_id, event.originator_version, event.at
            kind = type(event)
            if kind is StoreStock.Opened:
                opened.append((sid, event.brand, event.store_id, event.sku, version, at))
                continue
            row = change.get(sid)
            if row is None:
                row = change[sid] = [0, 0, 0, 0, None, version, version, at]
            row[6], row[7] = version, at
            if kind is StoreStock.Reserved:
                row[1] += event.qty
                hold = holds.setdefault((sid, event.order_id), [False, None])
                if hold[1] is None:  # ON CONFLICT DO NOTHING: the first insert since the last delete stands
                    hold[1] = event.expires_at
            elif kind is StoreStock.Released:
                row[1] -= event.qty
            elif kind is StoreStock.Consumed:
                row[0] -= event.qty
                row[1] -= event.qty
                row[2] += event.qty
            elif kind is StoreStock.Adjusted:
                row[0] += event.delta
            elif kind is StoreStock.SoldInStore:
                row[0] -= event.qty
                row[2] += event.qty
                row[3] += event.qty
            elif kind is StoreStock.ProtectionSet:
                row[4] = event.protection
            if kind in (StoreStock.Committed, StoreStock.Released, StoreStock.Consumed):
                holds[(sid, event.order_id)] = [True, None]
        if opened:
            await conn.executemany(
                """INSERT INTO stock_levels (stock_id, brand, store_id, sku, version, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
                opened,
            )
        deleted = [key for key, (gone, _) in holds.items() if gone]
        if deleted:
            await conn.execute(
                """DELETE FROM stock_holds h USING unnest($1::uuid[], $2::uuid[]) AS d(stock_id, order_id)
                   WHERE h.stock_id = d.stock_id AND h.order_id = d.order_id""",
                [k[0] for k in deleted],
                [k[1] for k in deleted],
            )
        inserted = [(key, expires) for key, (_, expires) in holds.items() if expires is not None]
        if inserted:
            await conn.execute(
                """INSERT INTO stock_holds SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[])
                   ON CONFLICT DO NOTHING""",
                [k[0] for k, _ in inserted],
                [k[1] for k, _ in inserted],
                [e for _, e in inserted],
            )
        if change:
            rows = list(change.items())
            await conn.execute(
                """UPDATE stock_levels s SET on_hand = s.on_hand + d.on_hand, reserved = s.reserved + d.reserved,
                          consumed = s.consumed + d.consumed, sold_in_store = s.sold_in_store + d.sold,
                          floor_units = CASE WHEN d.protect THEN d.floor_units ELSE s.floor_units END,
                          share_bp = CASE WHEN d.protect THEN d.share_bp ELSE s.share_bp END,
                          version = d.version, updated_at = d.at
                   FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bool[],
                               $7::bigint[], $8::int[], $9::bigint[], $10::bigint[], $11::timestamptz[])
                        AS d(stock_id, on_hand, reserved, consumed, sold, protect, floor_units, share_bp,
                             first_version, version, at)
                   WHERE s.stock_id = d.stock_id AND s.version < d.first_version""",
                [sid for sid, _ in rows],
                [r[0] for _, r in rows],
                [r[1] for _, r in rows],
                [r[2] for _, r in rows],
                [r[3] for _, r in rows],
                [r[4] is not None for _, r in rows],
                [r[4].floor_units if r[4] is not None else 0 for _, r in rows],
                [r[4].share_bp if r[4] is not None else 0 for _, r in rows],
                [r[5] for _, r in rows],
                [r[6] for _, r in rows],
                [r[7] for _, r in rows],
            )


class DropResults:
    name = "drop_results"
    topics = tuple(get_topic(e) for e in DROP_EVENTS)

    async def setup(self, conn: Any) -> None:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS drop_offers (
                drop_id uuid NOT NULL, member_id uuid NOT NULL, store_id uuid, units bigint NOT NULL,
                expires_at timestamptz NOT NULL, state text NOT NULL, offered_at timestamptz NOT NULL,
                PRIMARY KEY (drop_id, member_id))"""
        )
        # the claim's order (null unless CLAIMED); tables made before the column get it here
        await conn.execute("ALTER TABLE drop_offers ADD COLUMN IF NOT EXISTS order_id uuid")
        await conn.execute(
            "CREATE INDEX IF NOT EXISTS drop_offers_open ON drop_offers (expires_at) WHERE state = 'WON'"
        )

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP TABLE IF EXISTS drop_offers")

    async def _offer(self, conn: Any, drop_id, offers, at) -> None:
        await conn.executemany(
            """INSERT INTO drop_offers (drop_id, member_id, store_id, units, expires_at, state, offered_at)
               VALUES ($1, $2, $3, $4, $5, 'WON', $6) ON CONFLICT DO NOTHING""",
            [(drop_id, o.member_id, o.store_id, o.units, o.expires_at, at) for o in offers],
        )

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        drop_id = event.originator_id
        if isinstance(event, Drop.Drawn):
            await self._offer(conn, drop_id, event.offers, event.at)
        elif isinstance(event, Drop.Claimed):  # a claim recorded before claims placed orders names none
            await conn.execute(
                "UPDATE drop_offers SET state = 'CLAIMED', order_id = $3 WHERE drop_id = $1 AND member_id = $2",
                drop_id,
                event.member_id,
                getattr(event, "order_id", None),
            )
        elif isinstance(event, Drop.ClaimReleased):  # its order was cancelled: the units wait for the pass-on
            await conn.execute(
                "UPDATE drop_offers SET state = 'RELEASED', order_id = NULL WHERE drop_id = $1 AND member_id = $2",
                drop_id,
                event.member_id,
            )
        elif isinstance(event, Drop.PassedOn):
            await conn.executemany(
                "UPDATE drop_offers SET state = 'LAPSED', order_id = NULL WHERE drop_id = $1 AND member_id = $2",
                [(drop_id, m) for m in event.lapsed],
            )
            await self._offer(conn, drop_id, event.offers, event.at)


async def stocks_with_expired_holds(pool: Any, now: datetime, limit: int) -> list[UUID]:
    """Stock aggregates holding units for an unpaid order past its time (the read model may lag: the
    aggregate decides)."""
    rows = await pool.fetch(
        "SELECT DISTINCT stock_id FROM stock_holds WHERE expires_at <= $1 LIMIT $2",
        now,
        limit,
    )
    return [r["stock_id"] for r in rows]


async def drops_with_lapsed_offers(pool: Any, now: datetime, limit: int) -> list[UUID]:
    """Drawn drops with an offer unclaimed past its purchase window, or a claim whose order was cancelled, not yet
    passed on."""
    rows = await pool.fetch(
        "SELECT DISTINCT drop_id FROM drop_offers WHERE (state = 'WON' AND expires_at <= $1) OR state = 'RELEASED'"
        " LIMIT $2",
        now,
        limit,
    )
    return [r["drop_id"] for r in rows]
