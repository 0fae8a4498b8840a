import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.loyalty.v1 import orders_pb2 as _orders_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamStoreRevenueRequest(_message.Message):
    __slots__ = ("dealer", "from_day", "to_day")
    DEALER_FIELD_NUMBER: _ClassVar[int]
    FROM_DAY_FIELD_NUMBER: _ClassVar[int]
    TO_DAY_FIELD_NUMBER: _ClassVar[int]
    dealer: str
    from_day: str
    to_day: str
    def __init__(self, dealer: _Optional[str] = ..., from_day: _Optional[str] = ..., to_day: _Optional[str] = ...) -> None: ...

class StoreDayRevenue(_message.Message):
    __slots__ = ("dealer", "store", "day", "orders", "revenue_fen", "refunds", "refunded_fen", "net_fen")
    DEALER_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    NET_FEN_FIELD_NUMBER: _ClassVar[int]
    dealer: str
    store: str
    day: str
    orders: int
    revenue_fen: int
    refunds: int
    refunded_fen: int
    net_fen: int
    def __init__(self, dealer: _Optional[str] = ..., store: _Optional[str] = ..., day: _Optional[str] = ..., orders: _Optional[int] = ..., revenue_fen: _Optional[int] = ..., refunds: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., net_fen: _Optional[int] = ...) -> None: ...

class GetOrderAttributionRequest(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: str
    def __init__(self, order: _Optional[str] = ...) -> None: ...

class OrderAttribution(_message.Message):
    __slots__ = ("order", "store", "dealer", "paid_fen", "refunded_fen", "routing", "paid_at")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    DEALER_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    order: str
    store: str
    dealer: str
    paid_fen: int
    refunded_fen: int
    routing: _orders_pb2.RoutingDecision
    paid_at: _timestamp_pb2.Timestamp
    def __init__(self, order: _Optional[str] = ..., store: _Optional[str] = ..., dealer: _Optional[str] = ..., paid_fen: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., routing: _Optional[_Union[_orders_pb2.RoutingDecision, _Mapping]] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
