import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.loyalty.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StoreStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STORE_STATUS_UNSPECIFIED: _ClassVar[StoreStatus]
    STORE_STATUS_OPEN: _ClassVar[StoreStatus]
    STORE_STATUS_SUSPENDED: _ClassVar[StoreStatus]
    STORE_STATUS_CLOSED: _ClassVar[StoreStatus]

class GuideStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GUIDE_STATUS_UNSPECIFIED: _ClassVar[GuideStatus]
    GUIDE_STATUS_EMPLOYED: _ClassVar[GuideStatus]
    GUIDE_STATUS_LEFT: _ClassVar[GuideStatus]
STORE_STATUS_UNSPECIFIED: StoreStatus
STORE_STATUS_OPEN: StoreStatus
STORE_STATUS_SUSPENDED: StoreStatus
STORE_STATUS_CLOSED: StoreStatus
GUIDE_STATUS_UNSPECIFIED: GuideStatus
GUIDE_STATUS_EMPLOYED: GuideStatus
GUIDE_STATUS_LEFT: GuideStatus

class OpeningHours(_message.Message):
    __slots__ = ("weekday", "open_minute", "close_minute")
    WEEKDAY_FIELD_NUMBER: _ClassVar[int]
    OPEN_MINUTE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_MINUTE_FIELD_NUMBER: _ClassVar[int]
    weekday: int
    open_minute: int
    close_minute: int
    def __init__(self, weekday: _Optional[int] = ..., open_minute: _Optional[int] = ..., close_minute: _Optional[int] = ...) -> None: ...

class CloudStoreSpec(_message.Message):
    __slots__ = ("code", "display_name", "dealer", "location", "service_radius_m", "modes", "hours", "time_zone", "daily_capacity", "online_orders_enabled")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DEALER_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_RADIUS_M_FIELD_NUMBER: _ClassVar[int]
    MODES_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    DAILY_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ONLINE_ORDERS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    code: str
    display_name: str
    dealer: str
    location: _common_pb2.Location
    service_radius_m: int
    modes: _containers.RepeatedScalarFieldContainer[_common_pb2.FulfilmentMode]
    hours: _containers.RepeatedCompositeFieldContainer[OpeningHours]
    time_zone: str
    daily_capacity: int
    online_orders_enabled: bool
    def __init__(self, code: _Optional[str] = ..., display_name: _Optional[str] = ..., dealer: _Optional[str] = ..., location: _Optional[_Union[_common_pb2.Location, _Mapping]] = ..., service_radius_m: _Optional[int] = ..., modes: _Optional[_Iterable[_Union[_common_pb2.FulfilmentMode, str]]] = ..., hours: _Optional[_Iterable[_Union[OpeningHours, _Mapping]]] = ..., time_zone: _Optional[str] = ..., daily_capacity: _Optional[int] = ..., online_orders_enabled: _Optional[bool] = ...) -> None: ...

class CloudStore(_message.Message):
    __slots__ = ("name", "spec", "status", "revenue_fen", "refunded_fen", "version", "brand")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    name: str
    spec: CloudStoreSpec
    status: StoreStatus
    revenue_fen: int
    refunded_fen: int
    version: int
    brand: str
    def __init__(self, name: _Optional[str] = ..., spec: _Optional[_Union[CloudStoreSpec, _Mapping]] = ..., status: _Optional[_Union[StoreStatus, str]] = ..., revenue_fen: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., version: _Optional[int] = ..., brand: _Optional[str] = ...) -> None: ...

class OpenCloudStoreRequest(_message.Message):
    __slots__ = ("request_id", "brand", "cloud_store")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    CLOUD_STORE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    brand: str
    cloud_store: CloudStore
    def __init__(self, request_id: _Optional[str] = ..., brand: _Optional[str] = ..., cloud_store: _Optional[_Union[CloudStore, _Mapping]] = ...) -> None: ...

class ImportCloudStoresRequest(_message.Message):
    __slots__ = ("request_id", "brand", "cloud_stores")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    CLOUD_STORES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    brand: str
    cloud_stores: _containers.RepeatedCompositeFieldContainer[CloudStore]
    def __init__(self, request_id: _Optional[str] = ..., brand: _Optional[str] = ..., cloud_stores: _Optional[_Iterable[_Union[CloudStore, _Mapping]]] = ...) -> None: ...

class ImportCloudStoresResponse(_message.Message):
    __slots__ = ("cloud_stores",)
    CLOUD_STORES_FIELD_NUMBER: _ClassVar[int]
    cloud_stores: _containers.RepeatedCompositeFieldContainer[CloudStore]
    def __init__(self, cloud_stores: _Optional[_Iterable[_Union[CloudStore, _Mapping]]] = ...) -> None: ...

class RelocateCloudStoreRequest(_message.Message):
    __slots__ = ("request_id", "name", "location")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    location: _common_pb2.Location
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., location: _Optional[_Union[_common_pb2.Location, _Mapping]] = ...) -> None: ...

class UpdateCloudStoreRequest(_message.Message):
    __slots__ = ("request_id", "cloud_store", "update_mask")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CLOUD_STORE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    cloud_store: CloudStore
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, request_id: _Optional[str] = ..., cloud_store: _Optional[_Union[CloudStore, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class SuspendCloudStoreRequest(_message.Message):
    __slots__ = ("request_id", "name", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReopenCloudStoreRequest(_message.Message):
    __slots__ = ("request_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CloseCloudStoreRequest(_message.Message):
    __slots__ = ("request_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class TransferCloudStoreRequest(_message.Message):
    __slots__ = ("request_id", "name", "to_dealer", "effective_time")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TO_DEALER_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    to_dealer: str
    effective_time: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., to_dealer: _Optional[str] = ..., effective_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCloudStoreRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListCloudStoresRequest(_message.Message):
    __slots__ = ("brand", "page_size", "page_token", "dealer", "status", "near", "within_m")
    BRAND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEALER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NEAR_FIELD_NUMBER: _ClassVar[int]
    WITHIN_M_FIELD_NUMBER: _ClassVar[int]
    brand: str
    page_size: int
    page_token: str
    dealer: str
    status: StoreStatus
    near: _common_pb2.Location
    within_m: int
    def __init__(self, brand: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., dealer: _Optional[str] = ..., status: _Optional[_Union[StoreStatus, str]] = ..., near: _Optional[_Union[_common_pb2.Location, _Mapping]] = ..., within_m: _Optional[int] = ...) -> None: ...

class ListCloudStoresResponse(_message.Message):
    __slots__ = ("cloud_stores", "distances_m", "next_page_token")
    CLOUD_STORES_FIELD_NUMBER: _ClassVar[int]
    DISTANCES_M_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cloud_stores: _containers.RepeatedCompositeFieldContainer[CloudStore]
    distances_m: _containers.RepeatedScalarFieldContainer[float]
    next_page_token: str
    def __init__(self, cloud_stores: _Optional[_Iterable[_Union[CloudStore, _Mapping]]] = ..., distances_m: _Optional[_Iterable[float]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Guide(_message.Message):
    __slots__ = ("name", "store", "wecom_userid", "display_name", "status", "customer_count", "pending_handovers", "commission_frozen_fen", "commission_settled_fen", "commission_debt_fen", "version", "brand")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    WECOM_USERID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_HANDOVERS_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FROZEN_FEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_SETTLED_FEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_DEBT_FEN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    name: str
    store: str
    wecom_userid: str
    display_name: str
    status: GuideStatus
    customer_count: int
    pending_handovers: int
    commission_frozen_fen: int
    commission_settled_fen: int
    commission_debt_fen: int
    version: int
    brand: str
    def __init__(self, name: _Optional[str] = ..., store: _Optional[str] = ..., wecom_userid: _Optional[str] = ..., display_name: _Optional[str] = ..., status: _Optional[_Union[GuideStatus, str]] = ..., customer_count: _Optional[int] = ..., pending_handovers: _Optional[int] = ..., commission_frozen_fen: _Optional[int] = ..., commission_settled_fen: _Optional[int] = ..., commission_debt_fen: _Optional[int] = ..., version: _Optional[int] = ..., brand: _Optional[str] = ...) -> None: ...

class HireGuideRequest(_message.Message):
    __slots__ = ("request_id", "brand", "guide")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    GUIDE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    brand: str
    guide: Guide
    def __init__(self, request_id: _Optional[str] = ..., brand: _Optional[str] = ..., guide: _Optional[_Union[Guide, _Mapping]] = ...) -> None: ...

class MoveGuideRequest(_message.Message):
    __slots__ = ("request_id", "name", "to_store")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TO_STORE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    to_store: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., to_store: _Optional[str] = ...) -> None: ...

class ReleaseGuideRequest(_message.Message):
    __slots__ = ("request_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class InheritCustomersRequest(_message.Message):
    __slots__ = ("request_id", "name", "to_guide", "members")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TO_GUIDE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    to_guide: str
    members: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., to_guide: _Optional[str] = ..., members: _Optional[_Iterable[str]] = ...) -> None: ...

class InheritCustomersResponse(_message.Message):
    __slots__ = ("offered", "refused", "refusals")
    OFFERED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    offered: int
    refused: int
    refusals: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, offered: _Optional[int] = ..., refused: _Optional[int] = ..., refusals: _Optional[_Iterable[str]] = ...) -> None: ...

class ConcludeHandoverRequest(_message.Message):
    __slots__ = ("request_id", "name", "member", "accept", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    member: str
    accept: bool
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., member: _Optional[str] = ..., accept: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class CompleteDueHandoversRequest(_message.Message):
    __slots__ = ("request_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetGuideRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetGuidePerformanceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GuidePerformance(_message.Message):
    __slots__ = ("guide", "store", "display_name", "employed", "customers", "customers_added", "referrals", "credits", "sales_orders", "sales_fen", "refunded_fen", "commission_frozen_fen", "commission_settled_fen", "commission_debt_fen", "update_time")
    GUIDE_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EMPLOYED_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_ADDED_FIELD_NUMBER: _ClassVar[int]
    REFERRALS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    SALES_ORDERS_FIELD_NUMBER: _ClassVar[int]
    SALES_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FROZEN_FEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_SETTLED_FEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_DEBT_FEN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    guide: str
    store: str
    display_name: str
    employed: bool
    customers: int
    customers_added: int
    referrals: int
    credits: int
    sales_orders: int
    sales_fen: int
    refunded_fen: int
    commission_frozen_fen: int
    commission_settled_fen: int
    commission_debt_fen: int
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, guide: _Optional[str] = ..., store: _Optional[str] = ..., display_name: _Optional[str] = ..., employed: _Optional[bool] = ..., customers: _Optional[int] = ..., customers_added: _Optional[int] = ..., referrals: _Optional[int] = ..., credits: _Optional[int] = ..., sales_orders: _Optional[int] = ..., sales_fen: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., commission_frozen_fen: _Optional[int] = ..., commission_settled_fen: _Optional[int] = ..., commission_debt_fen: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetStorePerformanceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StorePerformance(_message.Message):
    __slots__ = ("store", "guides", "customers", "customers_added", "referrals", "sales_orders", "sales_fen", "refunded_fen")
    STORE_FIELD_NUMBER: _ClassVar[int]
    GUIDES_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_ADDED_FIELD_NUMBER: _ClassVar[int]
    REFERRALS_FIELD_NUMBER: _ClassVar[int]
    SALES_ORDERS_FIELD_NUMBER: _ClassVar[int]
    SALES_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    store: str
    guides: _containers.RepeatedCompositeFieldContainer[GuidePerformance]
    customers: int
    customers_added: int
    referrals: int
    sales_orders: int
    sales_fen: int
    refunded_fen: int
    def __init__(self, store: _Optional[str] = ..., guides: _Optional[_Iterable[_Union[GuidePerformance, _Mapping]]] = ..., customers: _Optional[int] = ..., customers_added: _Optional[int] = ..., referrals: _Optional[int] = ..., sales_orders: _Optional[int] = ..., sales_fen: _Optional[int] = ..., refunded_fen: _Optional[int] = ...) -> None: ...
