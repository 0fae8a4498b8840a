import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_UNSPECIFIED: _ClassVar[Tier]
    TIER_NEW: _ClassVar[Tier]
    TIER_ORDINARY: _ClassVar[Tier]
    TIER_SEED: _ClassVar[Tier]
    TIER_VALUE: _ClassVar[Tier]
    TIER_CORE: _ClassVar[Tier]

class PointsEntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POINTS_ENTRY_KIND_UNSPECIFIED: _ClassVar[PointsEntryKind]
    POINTS_ENTRY_KIND_EARNED: _ClassVar[PointsEntryKind]
    POINTS_ENTRY_KIND_REDEEMED: _ClassVar[PointsEntryKind]
    POINTS_ENTRY_KIND_EXPIRED: _ClassVar[PointsEntryKind]
    POINTS_ENTRY_KIND_REVERSED: _ClassVar[PointsEntryKind]
    POINTS_ENTRY_KIND_ADJUSTED: _ClassVar[PointsEntryKind]
    POINTS_ENTRY_KIND_ABSORBED: _ClassVar[PointsEntryKind]
    POINTS_ENTRY_KIND_MERGED_OUT: _ClassVar[PointsEntryKind]
TIER_UNSPECIFIED: Tier
TIER_NEW: Tier
TIER_ORDINARY: Tier
TIER_SEED: Tier
TIER_VALUE: Tier
TIER_CORE: Tier
POINTS_ENTRY_KIND_UNSPECIFIED: PointsEntryKind
POINTS_ENTRY_KIND_EARNED: PointsEntryKind
POINTS_ENTRY_KIND_REDEEMED: PointsEntryKind
POINTS_ENTRY_KIND_EXPIRED: PointsEntryKind
POINTS_ENTRY_KIND_REVERSED: PointsEntryKind
POINTS_ENTRY_KIND_ADJUSTED: PointsEntryKind
POINTS_ENTRY_KIND_ABSORBED: PointsEntryKind
POINTS_ENTRY_KIND_MERGED_OUT: PointsEntryKind

class Member(_message.Message):
    __slots__ = ("name", "brand", "openid", "unionid", "phone", "tier", "available_points", "pending_points", "points_debt", "guide", "home_store", "referrer", "merged_into", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    OPENID_FIELD_NUMBER: _ClassVar[int]
    UNIONID_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_POINTS_FIELD_NUMBER: _ClassVar[int]
    PENDING_POINTS_FIELD_NUMBER: _ClassVar[int]
    POINTS_DEBT_FIELD_NUMBER: _ClassVar[int]
    GUIDE_FIELD_NUMBER: _ClassVar[int]
    HOME_STORE_FIELD_NUMBER: _ClassVar[int]
    REFERRER_FIELD_NUMBER: _ClassVar[int]
    MERGED_INTO_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    brand: str
    openid: str
    unionid: str
    phone: str
    tier: Tier
    available_points: int
    pending_points: int
    points_debt: int
    guide: str
    home_store: str
    referrer: str
    merged_into: str
    version: int
    def __init__(self, name: _Optional[str] = ..., brand: _Optional[str] = ..., openid: _Optional[str] = ..., unionid: _Optional[str] = ..., phone: _Optional[str] = ..., tier: _Optional[_Union[Tier, str]] = ..., available_points: _Optional[int] = ..., pending_points: _Optional[int] = ..., points_debt: _Optional[int] = ..., guide: _Optional[str] = ..., home_store: _Optional[str] = ..., referrer: _Optional[str] = ..., merged_into: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class RegisterMemberRequest(_message.Message):
    __slots__ = ("request_id", "brand", "member")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    brand: str
    member: Member
    def __init__(self, request_id: _Optional[str] = ..., brand: _Optional[str] = ..., member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class GetMemberRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UpdateMemberProfileRequest(_message.Message):
    __slots__ = ("request_id", "name", "phone", "unionid", "nickname", "birthday")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    UNIONID_FIELD_NUMBER: _ClassVar[int]
    NICKNAME_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    phone: str
    unionid: str
    nickname: str
    birthday: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., unionid: _Optional[str] = ..., nickname: _Optional[str] = ..., birthday: _Optional[str] = ...) -> None: ...

class AssignTierFloorRequest(_message.Message):
    __slots__ = ("request_id", "name", "tier", "reason", "operator")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    tier: Tier
    reason: str
    operator: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., tier: _Optional[_Union[Tier, str]] = ..., reason: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class MergeMembersRequest(_message.Message):
    __slots__ = ("request_id", "name", "absorbed")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ABSORBED_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    absorbed: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., absorbed: _Optional[str] = ...) -> None: ...

class BindGuideRequest(_message.Message):
    __slots__ = ("request_id", "name", "guide")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GUIDE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    guide: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., guide: _Optional[str] = ...) -> None: ...

class RecordReferralRequest(_message.Message):
    __slots__ = ("request_id", "name", "referrer")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REFERRER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    referrer: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., referrer: _Optional[str] = ...) -> None: ...

class EarnPointsRequest(_message.Message):
    __slots__ = ("request_id", "name", "rule", "points")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    rule: str
    points: int
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., rule: _Optional[str] = ..., points: _Optional[int] = ...) -> None: ...

class RedeemPointsRequest(_message.Message):
    __slots__ = ("request_id", "name", "points", "reference")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    points: int
    reference: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., points: _Optional[int] = ..., reference: _Optional[str] = ...) -> None: ...

class AdjustPointsRequest(_message.Message):
    __slots__ = ("request_id", "name", "points", "reason", "corrects", "operator")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CORRECTS_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    points: int
    reason: str
    corrects: str
    operator: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., points: _Optional[int] = ..., reason: _Optional[str] = ..., corrects: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class PointsChange(_message.Message):
    __slots__ = ("member", "points")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    member: Member
    points: int
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., points: _Optional[int] = ...) -> None: ...

class PointsEntry(_message.Message):
    __slots__ = ("kind", "points", "reference", "entry_time", "shortfall")
    KIND_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_TIME_FIELD_NUMBER: _ClassVar[int]
    SHORTFALL_FIELD_NUMBER: _ClassVar[int]
    kind: PointsEntryKind
    points: int
    reference: str
    entry_time: _timestamp_pb2.Timestamp
    shortfall: int
    def __init__(self, kind: _Optional[_Union[PointsEntryKind, str]] = ..., points: _Optional[int] = ..., reference: _Optional[str] = ..., entry_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shortfall: _Optional[int] = ...) -> None: ...

class ListPointsHistoryRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPointsHistoryResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[PointsEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[PointsEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListExpiringPointsRequest(_message.Message):
    __slots__ = ("parent", "within_days", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    WITHIN_DAYS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    within_days: int
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., within_days: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ExpiringLot(_message.Message):
    __slots__ = ("lot", "points", "expire_time")
    LOT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    lot: str
    points: int
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, lot: _Optional[str] = ..., points: _Optional[int] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListExpiringPointsResponse(_message.Message):
    __slots__ = ("lots", "total_points", "next_page_token")
    LOTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_POINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    lots: _containers.RepeatedCompositeFieldContainer[ExpiringLot]
    total_points: int
    next_page_token: str
    def __init__(self, lots: _Optional[_Iterable[_Union[ExpiringLot, _Mapping]]] = ..., total_points: _Optional[int] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EvaluateTierRequest(_message.Message):
    __slots__ = ("request_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...
