import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MemberDataSection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_DATA_SECTION_UNSPECIFIED: _ClassVar[MemberDataSection]
    MEMBER_DATA_SECTION_PROFILE: _ClassVar[MemberDataSection]
    MEMBER_DATA_SECTION_POINTS_HISTORY: _ClassVar[MemberDataSection]
    MEMBER_DATA_SECTION_ORDER: _ClassVar[MemberDataSection]
    MEMBER_DATA_SECTION_IDENTITIES: _ClassVar[MemberDataSection]
    MEMBER_DATA_SECTION_BINDINGS: _ClassVar[MemberDataSection]
    MEMBER_DATA_SECTION_REFERRALS: _ClassVar[MemberDataSection]
    MEMBER_DATA_SECTION_CONSENTS: _ClassVar[MemberDataSection]
    MEMBER_DATA_SECTION_ERASURE: _ClassVar[MemberDataSection]

class MarketingConsentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARKETING_CONSENT_STATE_UNSPECIFIED: _ClassVar[MarketingConsentState]
    MARKETING_CONSENT_STATE_GRANTED: _ClassVar[MarketingConsentState]
    MARKETING_CONSENT_STATE_WITHDRAWN: _ClassVar[MarketingConsentState]
MEMBER_DATA_SECTION_UNSPECIFIED: MemberDataSection
MEMBER_DATA_SECTION_PROFILE: MemberDataSection
MEMBER_DATA_SECTION_POINTS_HISTORY: MemberDataSection
MEMBER_DATA_SECTION_ORDER: MemberDataSection
MEMBER_DATA_SECTION_IDENTITIES: MemberDataSection
MEMBER_DATA_SECTION_BINDINGS: MemberDataSection
MEMBER_DATA_SECTION_REFERRALS: MemberDataSection
MEMBER_DATA_SECTION_CONSENTS: MemberDataSection
MEMBER_DATA_SECTION_ERASURE: MemberDataSection
MARKETING_CONSENT_STATE_UNSPECIFIED: MarketingConsentState
MARKETING_CONSENT_STATE_GRANTED: MarketingConsentState
MARKETING_CONSENT_STATE_WITHDRAWN: MarketingConsentState

class EraseMemberRequest(_message.Message):
    __slots__ = ("request_id", "name", "requested_by", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    requested_by: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ErasureReceipt(_message.Message):
    __slots__ = ("name", "erase_time", "requested_by", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ERASE_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    erase_time: _timestamp_pb2.Timestamp
    requested_by: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., erase_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ExportMemberDataRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class MemberDataChunk(_message.Message):
    __slots__ = ("section", "json")
    SECTION_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    section: MemberDataSection
    json: str
    def __init__(self, section: _Optional[_Union[MemberDataSection, str]] = ..., json: _Optional[str] = ...) -> None: ...

class RecordMarketingConsentRequest(_message.Message):
    __slots__ = ("request_id", "name", "granted", "channel")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    granted: bool
    channel: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., granted: _Optional[bool] = ..., channel: _Optional[str] = ...) -> None: ...

class GetMarketingConsentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class MarketingConsent(_message.Message):
    __slots__ = ("name", "state", "channel", "decide_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: MarketingConsentState
    channel: str
    decide_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[MarketingConsentState, str]] = ..., channel: _Optional[str] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EraseGuideRequest(_message.Message):
    __slots__ = ("request_id", "name", "requested_by", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    requested_by: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GuideErasureReceipt(_message.Message):
    __slots__ = ("name", "erase_time", "requested_by", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ERASE_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    erase_time: _timestamp_pb2.Timestamp
    requested_by: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., erase_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
