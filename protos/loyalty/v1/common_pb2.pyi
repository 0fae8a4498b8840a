from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CoordinateSystem(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COORDINATE_SYSTEM_UNSPECIFIED: _ClassVar[CoordinateSystem]
    COORDINATE_SYSTEM_WGS84: _ClassVar[CoordinateSystem]
    COORDINATE_SYSTEM_GCJ02: _ClassVar[CoordinateSystem]
    COORDINATE_SYSTEM_BD09: _ClassVar[CoordinateSystem]

class FulfilmentMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FULFILMENT_MODE_UNSPECIFIED: _ClassVar[FulfilmentMode]
    FULFILMENT_MODE_DELIVERY: _ClassVar[FulfilmentMode]
    FULFILMENT_MODE_PICKUP: _ClassVar[FulfilmentMode]
    FULFILMENT_MODE_IN_STORE: _ClassVar[FulfilmentMode]
COORDINATE_SYSTEM_UNSPECIFIED: CoordinateSystem
COORDINATE_SYSTEM_WGS84: CoordinateSystem
COORDINATE_SYSTEM_GCJ02: CoordinateSystem
COORDINATE_SYSTEM_BD09: CoordinateSystem
FULFILMENT_MODE_UNSPECIFIED: FulfilmentMode
FULFILMENT_MODE_DELIVERY: FulfilmentMode
FULFILMENT_MODE_PICKUP: FulfilmentMode
FULFILMENT_MODE_IN_STORE: FulfilmentMode

class Location(_message.Message):
    __slots__ = ("latitude", "longitude", "system")
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    latitude: float
    longitude: float
    system: CoordinateSystem
    def __init__(self, latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., system: _Optional[_Union[CoordinateSystem, str]] = ...) -> None: ...
