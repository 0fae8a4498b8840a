import datetime

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
TIER_UNSPECIFIED: Tier
TIER_NEW: Tier
TIER_ORDINARY: Tier
TIER_SEED: Tier
TIER_VALUE: Tier
TIER_CORE: Tier

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
    __slots__ = ("request_id", "brand", "openid", "unionid", "phone", "referrer")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    OPENID_FIELD_NUMBER: _ClassVar[int]
    UNIONID_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    REFERRER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    brand: str
    openid: str
    unionid: str
    phone: str
    referrer: str
    def __init__(self, request_id: _Optional[str] = ..., brand: _Optional[str] = ..., openid: _Optional[str] = ..., unionid: _Optional[str] = ..., phone: _Optional[str] = ..., referrer: _Optional[str] = ...) -> None: ...

class GetMemberRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UpdateMemberProfileRequest(_message.Message):
    __slots__ = ("request_id", "member", "phone", "unionid", "nickname", "birthday")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    UNIONID_FIELD_NUMBER: _ClassVar[int]
    NICKNAME_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    member: str
    phone: str
    unionid: str
    nickname: str
    birthday: str
    def __init__(self, request_id: _Optional[str] = ..., member: _Optional[str] = ..., phone: _Optional[str] = ..., unionid: _Optional[str] = ..., nickname: _Optional[str] = ..., birthday: _Optional[str] = ...) -> None: ...

class AssignTierFloorRequest(_message.Message):
    __slots__ = ("request_id", "member", "tier", "reason", "operator")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    member: str
    tier: Tier
    reason: str
    operator: str
    def __init__(self, request_id: _Optional[str] = ..., member: _Optional[str] = ..., tier: _Optional[_Union[Tier, str]] = ..., reason: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class MergeMembersRequest(_message.Message):
    __slots__ = ("request_id", "survivor", "absorbed")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SURVIVOR_FIELD_NUMBER: _ClassVar[int]
    ABSORBED_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    survivor: str
    absorbed: str
    def __init__(self, request_id: _Optional[str] = ..., survivor: _Optional[str] = ..., absorbed: _Optional[str] = ...) -> None: ...

class BindGuideRequest(_message.Message):
    __slots__ = ("request_id", "member", "guide")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    GUIDE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    member: str
    guide: str
    def __init__(self, request_id: _Optional[str] = ..., member: _Optional[str] = ..., guide: _Optional[str] = ...) -> None: ...

class RecordReferralRequest(_message.Message):
    __slots__ = ("request_id", "referrer", "invitee")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRER_FIELD_NUMBER: _ClassVar[int]
    INVITEE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    referrer: str
    invitee: str
    def __init__(self, request_id: _Optional[str] = ..., referrer: _Optional[str] = ..., invitee: _Optional[str] = ...) -> None: ...

class EarnPointsRequest(_message.Message):
    __slots__ = ("request_id", "member", "rule", "points")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    member: str
    rule: str
    points: int
    def __init__(self, request_id: _Optional[str] = ..., member: _Optional[str] = ..., rule: _Optional[str] = ..., points: _Optional[int] = ...) -> None: ...

class RedeemPointsRequest(_message.Message):
    __slots__ = ("request_id", "member", "points", "reference")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    member: str
    points: int
    reference: str
    def __init__(self, request_id: _Optional[str] = ..., member: _Optional[str] = ..., points: _Optional[int] = ..., reference: _Optional[str] = ...) -> None: ...

class AdjustPointsRequest(_message.Message):
    __slots__ = ("request_id", "member", "points", "reason", "corrects", "operator")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CORRECTS_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    member: str
    points: int
    reason: str
    corrects: str
    operator: str
    def __init__(self, request_id: _Optional[str] = ..., member: _Optional[str] = ..., points: _Optional[int] = ..., reason: _Optional[str] = ..., corrects: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class PointsChange(_message.Message):
    __slots__ = ("member", "points")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    member: Member
    points: int
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., points: _Optional[int] = ...) -> None: ...

class PointsEntry(_message.Message):
    __slots__ = ("kind", "points", "reference", "at", "shortfall")
    KIND_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SHORTFALL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    points: int
    reference: str
    at: _timestamp_pb2.Timestamp
    shortfall: int
    def __init__(self, kind: _Optional[str] = ..., points: _Optional[int] = ..., reference: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shortfall: _Optional[int] = ...) -> None: ...

class ListPointsHistoryRequest(_message.Message):
    __slots__ = ("member", "page_size", "page_token")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    member: str
    page_size: int
    page_token: str
    def __init__(self, member: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPointsHistoryResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[PointsEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[PointsEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListExpiringPointsRequest(_message.Message):
    __slots__ = ("member", "within_days")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    WITHIN_DAYS_FIELD_NUMBER: _ClassVar[int]
    member: str
    within_days: int
    def __init__(self, member: _Optional[str] = ..., within_days: _Optional[int] = ...) -> None: ...

class ExpiringLot(_message.Message):
    __slots__ = ("lot", "points", "expires_at")
    LOT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    lot: str
    points: int
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, lot: _Optional[str] = ..., points: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListExpiringPointsResponse(_message.Message):
    __slots__ = ("lots", "total_points")
    LOTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_POINTS_FIELD_NUMBER: _ClassVar[int]
    lots: _containers.RepeatedCompositeFieldContainer[ExpiringLot]
    total_points: int
    def __init__(self, lots: _Optional[_Iterable[_Union[ExpiringLot, _Mapping]]] = ..., total_points: _Optional[int] = ...) -> None: ...

class EvaluateTierRequest(_message.Message):
    __slots__ = ("request_id", "member")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    member: str
    def __init__(self, request_id: _Optional[str] = ..., member: _Optional[str] = ...) -> None: ...
