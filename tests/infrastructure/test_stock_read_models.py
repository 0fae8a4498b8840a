"""The stock-level and drop-result read models show what the aggregates hold, live and rebuilt."""

from __future__ import annotations

from application.projection import AnyProjection
from application.repository import Repository
from domain.drop import Drop
from domain.stock import StoreStock
from infrastructure.event_store import EventStore
from infrastructure.mapper import build_mapper
from infrastructure.projection_runner import ProjectionRunner
from infrastructure.projections.stock_levels import DropResults, StockLevels
from infrastructure.rebuild import rebuild
from tests.infrastructure.test_snapshots import drop_workload, stock_workload


async def rows(store: EventStore, query: str) -> list[tuple]:
    return sorted(tuple(r) for r in await store.pool.fetch(query))


async def test_the_read_models_match_the_aggregates_and_a_rebuild(store: EventStore) -> None:
    (stock,), (drop, entry) = stock_workload(), drop_workload()
    assert isinstance(stock, StoreStock) and isinstance(drop, Drop)
    await Repository(store, build_mapper({})).save(stock, drop, entry)
    projections: list[AnyProjection] = [StockLevels(), DropResults()]
    runner = ProjectionRunner(store, projections, build_mapper({}), batch_size=3)
    await runner.setup()
    await runner.catch_up()

    levels = await rows(
        store, "SELECT on_hand, reserved, consumed, sold_in_store, protected, available_online FROM stock_levels_view"
    )
    assert levels == [
        (stock.on_hand, stock.reserved, stock.consumed, stock.sold_in_store, stock.protected, stock.available_online)
    ]
    holds = await rows(store, "SELECT stock_id, order_id, expires_at FROM stock_holds")
    assert holds == sorted((stock.id, r.order_id, r.expires_at) for r in stock.reservations.values() if not r.committed)
    assert len(holds) == 1  # the workload leaves one hold unpaid: the one the scheduler's sweep would look at
    offers = await rows(store, "SELECT member_id, units, state FROM drop_offers")
    expected = sorted(
        (o.member_id, o.units, "CLAIMED" if o.claimed else "LAPSED" if o.lapsed else "WON")
        for o in drop.offers.values()
    )
    assert offers == expected and {state for _, _, state in offers} >= {"CLAIMED", "LAPSED", "WON"}

    tables = ("stock_levels", "stock_holds", "drop_offers")
    live = [await rows(store, f"SELECT * FROM {t}") for t in tables]
    for projection in projections:
        await rebuild(store, projection, build_mapper({}), batch_size=2, out=None)
    assert [await rows(store, f"SELECT * FROM {t}") for t in tables] == live
