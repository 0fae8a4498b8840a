"""Stock levels and drop results as SQL read models (reporting, dashboards, exports).

``stock_levels``: one row per (store, SKU), fed from ``StoreStock``'s own events, so each
figure is what the aggregate holds: on-hand, reserved (held for online orders), consumed
(fulfilled online plus till sales), till sales, and the walk-in protection; protected and
available-online units are derived the way the aggregate derives them
(``stock_levels_view``). ``drop_offers``: one row per offer of a drawn drop, with its state
(WON, CLAIMED, LAPSED), fed from ``Drop``'s events.
"""

from __future__ import annotations

from typing import Any

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
DROP_EVENTS = (Drop.Drawn, Drop.Claimed, Drop.PassedOn)


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

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP VIEW IF EXISTS stock_levels_view")
        await conn.execute("DROP TABLE IF EXISTS stock_levels")

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

    async def reset(self, conn: Any) -> None:
        await conn.execute("DROP TABLE IF EXISTS drop_offers")

    async def _offer(self, conn: Any, drop_id, offers, at) -> None:
        await conn.executemany(
            """INSERT INTO drop_offers VALUES ($1, $2, $3, $4, $5, 'WON', $6) ON CONFLICT DO NOTHING""",
            [(drop_id, o.member_id, o.store_id, o.units, o.expires_at, at) for o in offers],
        )

    async def handle(self, conn: Any, event: Any, notification_id: int) -> None:
        drop_id = event.originator_id
        if isinstance(event, Drop.Drawn):
            await self._offer(conn, drop_id, event.offers, event.at)
        elif isinstance(event, Drop.Claimed):
            await conn.execute(
                "UPDATE drop_offers SET state = 'CLAIMED' WHERE drop_id = $1 AND member_id = $2",
                drop_id,
                event.member_id,
            )
        elif isinstance(event, Drop.PassedOn):
            await conn.executemany(
                "UPDATE drop_offers SET state = 'LAPSED' WHERE drop_id = $1 AND member_id = $2",
                [(drop_id, m) for m in event.lapsed],
            )
            await self._offer(conn, drop_id, event.offers, event.at)
