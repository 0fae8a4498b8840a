import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StockLine(_message.Message):
    __slots__ = ("store", "sku", "count", "delta")
    STORE_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    store: str
    sku: str
    count: int
    delta: int
    def __init__(self, store: _Optional[str] = ..., sku: _Optional[str] = ..., count: _Optional[int] = ..., delta: _Optional[int] = ...) -> None: ...

class ImportStockRequest(_message.Message):
    __slots__ = ("request_id", "brand", "batch_id", "lines", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    brand: str
    batch_id: str
    lines: _containers.RepeatedCompositeFieldContainer[StockLine]
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., brand: _Optional[str] = ..., batch_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[StockLine, _Mapping]]] = ..., reason: _Optional[str] = ...) -> None: ...

class ImportStockResponse(_message.Message):
    __slots__ = ("levels",)
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    levels: _containers.RepeatedCompositeFieldContainer[StockLevel]
    def __init__(self, levels: _Optional[_Iterable[_Union[StockLevel, _Mapping]]] = ...) -> None: ...

class RecordInStoreSaleRequest(_message.Message):
    __slots__ = ("request_id", "store", "sku", "quantity")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    store: str
    sku: str
    quantity: int
    def __init__(self, request_id: _Optional[str] = ..., store: _Optional[str] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class SetStockProtectionRequest(_message.Message):
    __slots__ = ("request_id", "store", "skus", "floor_units", "share_basis_points")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    SKUS_FIELD_NUMBER: _ClassVar[int]
    FLOOR_UNITS_FIELD_NUMBER: _ClassVar[int]
    SHARE_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    store: str
    skus: _containers.RepeatedScalarFieldContainer[str]
    floor_units: int
    share_basis_points: int
    def __init__(self, request_id: _Optional[str] = ..., store: _Optional[str] = ..., skus: _Optional[_Iterable[str]] = ..., floor_units: _Optional[int] = ..., share_basis_points: _Optional[int] = ...) -> None: ...

class SetStockProtectionResponse(_message.Message):
    __slots__ = ("levels",)
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    levels: _containers.RepeatedCompositeFieldContainer[StockLevel]
    def __init__(self, levels: _Optional[_Iterable[_Union[StockLevel, _Mapping]]] = ...) -> None: ...

class GetStockLevelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListStockLevelsRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListStockLevelsResponse(_message.Message):
    __slots__ = ("levels",)
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    levels: _containers.RepeatedCompositeFieldContainer[StockLevel]
    def __init__(self, levels: _Optional[_Iterable[_Union[StockLevel, _Mapping]]] = ...) -> None: ...

class StockLevel(_message.Message):
    __slots__ = ("name", "store", "sku", "on_hand_units", "reserved_units", "protected_units", "available_online_units", "protection_floor_units", "protection_share_basis_points", "consumed_units", "sold_in_store_units", "reservation_count", "update_time", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    ON_HAND_UNITS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_UNITS_FIELD_NUMBER: _ClassVar[int]
    PROTECTED_UNITS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_ONLINE_UNITS_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_FLOOR_UNITS_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_SHARE_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    CONSUMED_UNITS_FIELD_NUMBER: _ClassVar[int]
    SOLD_IN_STORE_UNITS_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    store: str
    sku: str
    on_hand_units: int
    reserved_units: int
    protected_units: int
    available_online_units: int
    protection_floor_units: int
    protection_share_basis_points: int
    consumed_units: int
    sold_in_store_units: int
    reservation_count: int
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, name: _Optional[str] = ..., store: _Optional[str] = ..., sku: _Optional[str] = ..., on_hand_units: _Optional[int] = ..., reserved_units: _Optional[int] = ..., protected_units: _Optional[int] = ..., available_online_units: _Optional[int] = ..., protection_floor_units: _Optional[int] = ..., protection_share_basis_points: _Optional[int] = ..., consumed_units: _Optional[int] = ..., sold_in_store_units: _Optional[int] = ..., reservation_count: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...
