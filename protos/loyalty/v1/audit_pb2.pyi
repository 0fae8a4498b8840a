import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.loyalty.v1 import members_pb2 as _members_pb2
from protos.loyalty.v1 import orders_pb2 as _orders_pb2
from protos.loyalty.v1 import stores_pb2 as _stores_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamEventsRequest(_message.Message):
    __slots__ = ("aggregate", "positions", "times")
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    aggregate: str
    positions: PositionRange
    times: TimeRange
    def __init__(self, aggregate: _Optional[str] = ..., positions: _Optional[_Union[PositionRange, _Mapping]] = ..., times: _Optional[_Union[TimeRange, _Mapping]] = ...) -> None: ...

class PositionRange(_message.Message):
    __slots__ = ("after", "up_to")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    after: int
    up_to: int
    def __init__(self, after: _Optional[int] = ..., up_to: _Optional[int] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StoredEvent(_message.Message):
    __slots__ = ("position", "originator_id", "originator_version", "topic", "record_time", "state_json")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ORIGINATOR_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINATOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_JSON_FIELD_NUMBER: _ClassVar[int]
    position: int
    originator_id: str
    originator_version: int
    topic: str
    record_time: _timestamp_pb2.Timestamp
    state_json: str
    def __init__(self, position: _Optional[int] = ..., originator_id: _Optional[str] = ..., originator_version: _Optional[int] = ..., topic: _Optional[str] = ..., record_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_json: _Optional[str] = ...) -> None: ...

class GetAggregateStateRequest(_message.Message):
    __slots__ = ("name", "version", "as_of_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    as_of_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PointsTotals(_message.Message):
    __slots__ = ("earned", "redeemed", "expired", "reversed", "adjusted", "transferred", "debt", "remaining")
    EARNED_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    REVERSED_FIELD_NUMBER: _ClassVar[int]
    ADJUSTED_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_FIELD_NUMBER: _ClassVar[int]
    DEBT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    earned: int
    redeemed: int
    expired: int
    reversed: int
    adjusted: int
    transferred: int
    debt: int
    remaining: int
    def __init__(self, earned: _Optional[int] = ..., redeemed: _Optional[int] = ..., expired: _Optional[int] = ..., reversed: _Optional[int] = ..., adjusted: _Optional[int] = ..., transferred: _Optional[int] = ..., debt: _Optional[int] = ..., remaining: _Optional[int] = ...) -> None: ...

class MemberState(_message.Message):
    __slots__ = ("member", "points_totals", "tier_floor")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    POINTS_TOTALS_FIELD_NUMBER: _ClassVar[int]
    TIER_FLOOR_FIELD_NUMBER: _ClassVar[int]
    member: _members_pb2.Member
    points_totals: PointsTotals
    tier_floor: _members_pb2.Tier
    def __init__(self, member: _Optional[_Union[_members_pb2.Member, _Mapping]] = ..., points_totals: _Optional[_Union[PointsTotals, _Mapping]] = ..., tier_floor: _Optional[_Union[_members_pb2.Tier, str]] = ...) -> None: ...

class AggregateState(_message.Message):
    __slots__ = ("name", "type", "version", "view_time", "member", "cloud_store", "guide", "order")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VIEW_TIME_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    CLOUD_STORE_FIELD_NUMBER: _ClassVar[int]
    GUIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    version: int
    view_time: _timestamp_pb2.Timestamp
    member: MemberState
    cloud_store: _stores_pb2.CloudStore
    guide: _stores_pb2.Guide
    order: _orders_pb2.Order
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., version: _Optional[int] = ..., view_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., member: _Optional[_Union[MemberState, _Mapping]] = ..., cloud_store: _Optional[_Union[_stores_pb2.CloudStore, _Mapping]] = ..., guide: _Optional[_Union[_stores_pb2.Guide, _Mapping]] = ..., order: _Optional[_Union[_orders_pb2.Order, _Mapping]] = ...) -> None: ...

class VerifyEventLogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyEventLogResponse(_message.Message):
    __slots__ = ("ok", "checked", "first_broken_position", "reason", "head_hash", "unchained")
    OK_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_BROKEN_POSITION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    UNCHAINED_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    checked: int
    first_broken_position: int
    reason: str
    head_hash: str
    unchained: int
    def __init__(self, ok: _Optional[bool] = ..., checked: _Optional[int] = ..., first_broken_position: _Optional[int] = ..., reason: _Optional[str] = ..., head_hash: _Optional[str] = ..., unchained: _Optional[int] = ...) -> None: ...

class GetPointsLiabilityRequest(_message.Message):
    __slots__ = ("brand", "as_of_time")
    BRAND_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    brand: str
    as_of_time: _timestamp_pb2.Timestamp
    def __init__(self, brand: _Optional[str] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExpiryBucket(_message.Message):
    __slots__ = ("last_usable_month", "points")
    LAST_USABLE_MONTH_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    last_usable_month: str
    points: int
    def __init__(self, last_usable_month: _Optional[str] = ..., points: _Optional[int] = ...) -> None: ...

class PointsLiability(_message.Message):
    __slots__ = ("brand", "as_of_time", "available_points", "pending_points", "debt_points", "expiring")
    BRAND_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_POINTS_FIELD_NUMBER: _ClassVar[int]
    PENDING_POINTS_FIELD_NUMBER: _ClassVar[int]
    DEBT_POINTS_FIELD_NUMBER: _ClassVar[int]
    EXPIRING_FIELD_NUMBER: _ClassVar[int]
    brand: str
    as_of_time: _timestamp_pb2.Timestamp
    available_points: int
    pending_points: int
    debt_points: int
    expiring: _containers.RepeatedCompositeFieldContainer[ExpiryBucket]
    def __init__(self, brand: _Optional[str] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., available_points: _Optional[int] = ..., pending_points: _Optional[int] = ..., debt_points: _Optional[int] = ..., expiring: _Optional[_Iterable[_Union[ExpiryBucket, _Mapping]]] = ...) -> None: ...
