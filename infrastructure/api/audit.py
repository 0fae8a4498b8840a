"""AuditService: read-only access to the history, as-of state, and the tamper-evident chain.

An auditor (or operator) reads its own brand's history only: an aggregate's
brand is the one its first event recorded (every aggregate's creation event
names its brand), and events of other brands' aggregates are left out of
streams, their aggregates answered as missing. Positions stay global (the log
is one), so a brand's stream has gaps where other brands' events lie.
``VerifyEventLog`` checks the whole log's chain: it reports only counts and the
head hash, no brand's data.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from application.auth import Principal, Role, brand_scope
from application.clock import Clock
from application.repository import Repository
from domain.cloud_store import CloudStore
from domain.errors import InvalidArgument, NotFound
from domain.guide import Guide
from domain.member import Member
from domain.order import Order
from infrastructure import hash_chain
from infrastructure.api import convert
from infrastructure.api.members import member_message
from infrastructure.api.orders import order_message
from infrastructure.api.rpc import Servicer, streaming, unary
from infrastructure.api.stores import guide_message, store_message
from infrastructure.event_store import EventStore
from infrastructure.export import dumps, event_record
from infrastructure.projections.points_liability import points_liability
from protos.loyalty.v1 import audit_pb2 as pb
from protos.loyalty.v1 import audit_pb2_grpc, members_pb2

AUDITORS = (Role.AUDITOR, Role.OPERATOR)
COLLECTIONS = ("members", "cloudStores", "guides", "orders")
VIEWS = {"members": Member, "cloudStores": CloudStore, "guides": Guide, "orders": Order}
PAGE = 500
BRANDS_REMEMBERED = 100_000  # aggregate id -> brand; a brand never changes, so the cache is only bounded


def aggregate_id(name: str, field: str = "aggregate") -> UUID:
    collection, _, raw = name.partition("/")
    try:
        if collection not in COLLECTIONS:
            raise ValueError
        return UUID(raw)
    except ValueError:
        raise InvalidArgument(
            "aggregate must look like members/{uuid}, cloudStores/{uuid}, guides/{uuid} or orders/{uuid}",
            reason="INVALID_RESOURCE_NAME",
            field=field,
        ) from None


class AuditServicer(Servicer, audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, auth, store: EventStore, repository: Repository, clock: Clock) -> None:
        super().__init__(auth)
        self.store = store
        self.repository = repository
        self.clock = clock
        self._brands: dict[UUID, str] = {}

    async def _brand_of(self, aggregate_id: UUID) -> str | None:
        """The brand an aggregate's first event recorded (None: no such aggregate)."""
        brand = self._brands.get(aggregate_id)
        if brand is None:
            first = await self.store.select_events(aggregate_id, lte=1)
            if not first:
                return None
            brand = getattr(self.repository.mapper.to_domain_event(first[0]), "brand", "")
            if len(self._brands) >= BRANDS_REMEMBERED:
                self._brands.clear()
            self._brands[aggregate_id] = brand
        return brand

    async def _own(self, aggregate_id: UUID, principal: Principal) -> UUID:
        """The aggregate's id if it is the caller's brand's; another brand's answers as a missing one."""
        if await self._brand_of(aggregate_id) != principal.brand:
            raise NotFound(f"aggregate {aggregate_id} not found", reason="AGGREGATE_NOT_FOUND")
        return aggregate_id

    def _message(self, n, position: int) -> pb.StoredEvent:
        record = event_record(self.repository.mapper, n)
        return pb.StoredEvent(
            position=position,
            originator_id=str(n.originator_id),
            originator_version=n.originator_version,
            topic=n.topic,
            record_time=convert.timestamp(record["timestamp"]),
            state_json=dumps(record["state"]).decode(),
        )

    @streaming(*AUDITORS)
    async def StreamEvents(self, request: pb.StreamEventsRequest, principal: Principal):
        which = request.WhichOneof("selector")
        if which == "aggregate":
            ident = await self._own(aggregate_id(request.aggregate), principal)
            gt = None
            while True:
                events = await self.store.select_events(ident, gt=gt, limit=PAGE)
                for e in events:
                    yield self._message(_as_notification(e), 0)
                if len(events) < PAGE:
                    return
                gt = events[-1].originator_version
        elif which in ("positions", "times"):
            after = request.positions.after if which == "positions" else 0
            stop = request.positions.up_to or None if which == "positions" else None
            start = convert.from_timestamp(request.times.start) if which == "times" else None
            end = (
                convert.from_timestamp(request.times.end)
                if which == "times" and request.times.HasField("end")
                else None
            )
            if after < 0 or (stop is not None and stop < after):
                raise InvalidArgument("positions must satisfy 0 <= after <= up_to", reason="OUT_OF_RANGE")
            position = after
            while True:
                batch = await self.store.select_notifications(position, PAGE, stop=stop, inclusive_of_start=False)
                for n in batch:
                    originator_id = n.originator_id if isinstance(n.originator_id, UUID) else UUID(n.originator_id)
                    if await self._brand_of(originator_id) != principal.brand:
                        continue
                    if start is not None:
                        ts = self.repository.decode(n).timestamp
                        if ts < start or (end is not None and ts >= end):
                            continue
                    yield self._message(n, n.id)
                if len(batch) < PAGE:
                    return
                position = batch[-1].id
        else:
            raise InvalidArgument("choose aggregate, positions or times", reason="FIELD_REQUIRED", field="selector")

    @unary(*AUDITORS)
    async def GetAggregateState(self, request: pb.GetAggregateStateRequest, principal: Principal):
        ident = aggregate_id(request.name, field="name")
        if request.version < 0:
            raise InvalidArgument("version must not be negative", reason="OUT_OF_RANGE", field="version")
        at = convert.from_timestamp(request.as_of_time, field="as_of_time") if request.HasField("as_of_time") else None
        await self._own(ident, principal)
        aggregate = await self.repository.get_as_of(ident, version=request.version or None, at=at)
        return aggregate_state(request.name, aggregate, at)

    @unary(*AUDITORS)
    async def GetPointsLiability(self, request: pb.GetPointsLiabilityRequest, principal: Principal):
        brand = brand_scope(principal, request.brand)
        as_of = (
            convert.from_timestamp(request.as_of_time, field="as_of_time")
            if request.HasField("as_of_time")
            else self.clock.now()
        )
        liability = await points_liability(self.store.pool, brand, as_of)
        return pb.PointsLiability(
            brand=liability.brand,
            as_of_time=convert.timestamp(liability.as_of),
            available_points=liability.available,
            pending_points=liability.pending,
            debt_points=liability.debt,
            expiring=[
                pb.ExpiryBucket(last_usable_month=month or "", points=points) for month, points in liability.expiring
            ],
        )

    @unary(*AUDITORS)
    async def VerifyEventLog(self, request, principal):
        result = await hash_chain.verify(self.store)
        return pb.VerifyEventLogResponse(
            ok=result.ok,
            checked=result.checked,
            first_broken_position=result.first_broken_position or 0,
            reason=result.reason or "",
            head_hash=result.head.hash_hex if result.head else "",
            unchained=result.unchained,
        )


def aggregate_state(name: str, aggregate, at: datetime | None) -> pb.AggregateState:
    """The documented view of ``aggregate`` (AggregateState in audit.proto): its resource as its Get call shows it,
    computed at ``at`` (or at the shown version's last event); a member adds its ledger totals and tier floor."""
    collection = name.partition("/")[0]
    if not isinstance(aggregate, VIEWS[collection]):
        raise NotFound(f"aggregate {name} not found", reason="AGGREGATE_NOT_FOUND")
    view_time = at or aggregate.modified_on
    state = pb.AggregateState(
        name=name, type=type(aggregate).__name__, version=aggregate.version, view_time=convert.timestamp(view_time)
    )
    if isinstance(aggregate, Member):
        totals = aggregate.totals()
        state.member.CopyFrom(
            pb.MemberState(
                member=member_message(aggregate, view_time),
                points_totals=pb.PointsTotals(
                    **{f: getattr(totals, f) for f in pb.PointsTotals.DESCRIPTOR.fields_by_name}
                ),
                tier_floor=members_pb2.Tier.Value(f"TIER_{aggregate.tier_floor.name}") if aggregate.tier_floor else 0,
            )
        )
    elif isinstance(aggregate, CloudStore):
        state.cloud_store.CopyFrom(store_message(aggregate))
    elif isinstance(aggregate, Guide):
        state.guide.CopyFrom(guide_message(aggregate))
    else:
        state.order.CopyFrom(order_message(aggregate))
    return state


def _as_notification(e: StoredEvent) -> Notification:
    return Notification(
        id=0, originator_id=e.originator_id, originator_version=e.originator_version, topic=e.topic, state=e.state
    )
