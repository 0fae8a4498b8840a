import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.loyalty.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DropTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DROP_TIER_UNSPECIFIED: _ClassVar[DropTier]
    DROP_TIER_NEW: _ClassVar[DropTier]
    DROP_TIER_ORDINARY: _ClassVar[DropTier]
    DROP_TIER_SEED: _ClassVar[DropTier]
    DROP_TIER_VALUE: _ClassVar[DropTier]
    DROP_TIER_CORE: _ClassVar[DropTier]

class DropResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DROP_RESULT_UNSPECIFIED: _ClassVar[DropResult]
    DROP_RESULT_PENDING: _ClassVar[DropResult]
    DROP_RESULT_WON: _ClassVar[DropResult]
    DROP_RESULT_NOT_WON: _ClassVar[DropResult]
    DROP_RESULT_CLAIMED: _ClassVar[DropResult]
    DROP_RESULT_LAPSED: _ClassVar[DropResult]
DROP_TIER_UNSPECIFIED: DropTier
DROP_TIER_NEW: DropTier
DROP_TIER_ORDINARY: DropTier
DROP_TIER_SEED: DropTier
DROP_TIER_VALUE: DropTier
DROP_TIER_CORE: DropTier
DROP_RESULT_UNSPECIFIED: DropResult
DROP_RESULT_PENDING: DropResult
DROP_RESULT_WON: DropResult
DROP_RESULT_NOT_WON: DropResult
DROP_RESULT_CLAIMED: DropResult
DROP_RESULT_LAPSED: DropResult

class DropPool(_message.Message):
    __slots__ = ("store", "units")
    STORE_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    store: str
    units: int
    def __init__(self, store: _Optional[str] = ..., units: _Optional[int] = ...) -> None: ...

class EarlyAccess(_message.Message):
    __slots__ = ("tier", "minutes")
    TIER_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    tier: DropTier
    minutes: int
    def __init__(self, tier: _Optional[_Union[DropTier, str]] = ..., minutes: _Optional[int] = ...) -> None: ...

class CreateDropRequest(_message.Message):
    __slots__ = ("request_id", "brand", "drop")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    brand: str
    drop: Drop
    def __init__(self, request_id: _Optional[str] = ..., brand: _Optional[str] = ..., drop: _Optional[_Union[Drop, _Mapping]] = ...) -> None: ...

class GetDropRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Drop(_message.Message):
    __slots__ = ("name", "brand", "display_name", "sku", "pools", "registration_open_time", "registration_close_time", "early_access", "purchase_window_minutes", "per_member_limit", "tickets_per_invite", "invite_ticket_cap", "commitment", "seed", "entries_digest", "entry_count", "offer_count", "create_time", "version", "price_fen")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    EARLY_ACCESS_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_WINDOW_MINUTES_FIELD_NUMBER: _ClassVar[int]
    PER_MEMBER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    TICKETS_PER_INVITE_FIELD_NUMBER: _ClassVar[int]
    INVITE_TICKET_CAP_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    OFFER_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    brand: str
    display_name: str
    sku: str
    pools: _containers.RepeatedCompositeFieldContainer[DropPool]
    registration_open_time: _timestamp_pb2.Timestamp
    registration_close_time: _timestamp_pb2.Timestamp
    early_access: _containers.RepeatedCompositeFieldContainer[EarlyAccess]
    purchase_window_minutes: int
    per_member_limit: int
    tickets_per_invite: int
    invite_ticket_cap: int
    commitment: str
    seed: str
    entries_digest: str
    entry_count: int
    offer_count: int
    create_time: _timestamp_pb2.Timestamp
    version: int
    price_fen: int
    def __init__(self, name: _Optional[str] = ..., brand: _Optional[str] = ..., display_name: _Optional[str] = ..., sku: _Optional[str] = ..., pools: _Optional[_Iterable[_Union[DropPool, _Mapping]]] = ..., registration_open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., registration_close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., early_access: _Optional[_Iterable[_Union[EarlyAccess, _Mapping]]] = ..., purchase_window_minutes: _Optional[int] = ..., per_member_limit: _Optional[int] = ..., tickets_per_invite: _Optional[int] = ..., invite_ticket_cap: _Optional[int] = ..., commitment: _Optional[str] = ..., seed: _Optional[str] = ..., entries_digest: _Optional[str] = ..., entry_count: _Optional[int] = ..., offer_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., price_fen: _Optional[int] = ...) -> None: ...

class RegisterForDropRequest(_message.Message):
    __slots__ = ("request_id", "parent", "member", "store", "invited_by")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    INVITED_BY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    parent: str
    member: str
    store: str
    invited_by: str
    def __init__(self, request_id: _Optional[str] = ..., parent: _Optional[str] = ..., member: _Optional[str] = ..., store: _Optional[str] = ..., invited_by: _Optional[str] = ...) -> None: ...

class GetDropEntryRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DropEntry(_message.Message):
    __slots__ = ("name", "drop", "member", "store", "tickets", "bonus_tickets", "invitee_count", "tier", "register_time", "result", "offered_units", "offer_expire_time", "order")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    BONUS_TICKETS_FIELD_NUMBER: _ClassVar[int]
    INVITEE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    REGISTER_TIME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    OFFERED_UNITS_FIELD_NUMBER: _ClassVar[int]
    OFFER_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    name: str
    drop: str
    member: str
    store: str
    tickets: int
    bonus_tickets: int
    invitee_count: int
    tier: DropTier
    register_time: _timestamp_pb2.Timestamp
    result: DropResult
    offered_units: int
    offer_expire_time: _timestamp_pb2.Timestamp
    order: str
    def __init__(self, name: _Optional[str] = ..., drop: _Optional[str] = ..., member: _Optional[str] = ..., store: _Optional[str] = ..., tickets: _Optional[int] = ..., bonus_tickets: _Optional[int] = ..., invitee_count: _Optional[int] = ..., tier: _Optional[_Union[DropTier, str]] = ..., register_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[_Union[DropResult, str]] = ..., offered_units: _Optional[int] = ..., offer_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order: _Optional[str] = ...) -> None: ...

class DrawDropRequest(_message.Message):
    __slots__ = ("request_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ClaimDropOfferRequest(_message.Message):
    __slots__ = ("request_id", "name", "fulfilment", "customer_location", "pickup_store")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FULFILMENT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_LOCATION_FIELD_NUMBER: _ClassVar[int]
    PICKUP_STORE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    fulfilment: _common_pb2.FulfilmentMode
    customer_location: _common_pb2.Location
    pickup_store: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., fulfilment: _Optional[_Union[_common_pb2.FulfilmentMode, str]] = ..., customer_location: _Optional[_Union[_common_pb2.Location, _Mapping]] = ..., pickup_store: _Optional[str] = ...) -> None: ...

class PassOnUnclaimedOffersRequest(_message.Message):
    __slots__ = ("request_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListDropResultsRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class DropOffer(_message.Message):
    __slots__ = ("member", "store", "units", "expire_time", "result", "order")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    member: str
    store: str
    units: int
    expire_time: _timestamp_pb2.Timestamp
    result: DropResult
    order: str
    def __init__(self, member: _Optional[str] = ..., store: _Optional[str] = ..., units: _Optional[int] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[_Union[DropResult, str]] = ..., order: _Optional[str] = ...) -> None: ...

class ListDropResultsResponse(_message.Message):
    __slots__ = ("offers",)
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    offers: _containers.RepeatedCompositeFieldContainer[DropOffer]
    def __init__(self, offers: _Optional[_Iterable[_Union[DropOffer, _Mapping]]] = ...) -> None: ...
