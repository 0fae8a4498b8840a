"""Every read model the engine keeps, for the server, the worker and the rebuild tool.

loyalty projections                  (the default factory: infrastructure.projections:all_projections)
loyalty rebuild --only member_points
"""

from __future__ import annotations

from typing import Any

from infrastructure.event_store import EventStore
from infrastructure.hash_chain import HashChainer
from infrastructure.projections.dealer_ledger import DealerLedger
from infrastructure.projections.due_work import DuePayments, DueSettlements
from infrastructure.projections.guide_performance import GuidePerformance
from infrastructure.projections.member_orders import MemberOrders
from infrastructure.projections.member_points import MemberPoints
from infrastructure.projections.settlement import SettlementLines
from infrastructure.projections.stock_levels import DropResults, StockLevels


def all_projections(store: EventStore) -> list[Any]:
    """The tamper-evident chain first, then the read models (names are their tracking keys)."""
    return [
        HashChainer(store),
        DealerLedger(),
        MemberPoints(),
        GuidePerformance(),
        SettlementLines(),
        DueSettlements(),
        DuePayments(),
        MemberOrders(),
        StockLevels(),
        DropResults(),
    ]
