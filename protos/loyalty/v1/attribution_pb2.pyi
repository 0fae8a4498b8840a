import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.loyalty.v1 import orders_pb2 as _orders_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SettlementLineKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTLEMENT_LINE_KIND_UNSPECIFIED: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_ORDER: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_REFUND: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_LATE_REFUND: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_LATE_ORDER: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_COMMISSION: _ClassVar[SettlementLineKind]
    SETTLEMENT_LINE_KIND_COMMISSION_CLAWBACK: _ClassVar[SettlementLineKind]
SETTLEMENT_LINE_KIND_UNSPECIFIED: SettlementLineKind
SETTLEMENT_LINE_KIND_ORDER: SettlementLineKind
SETTLEMENT_LINE_KIND_REFUND: SettlementLineKind
SETTLEMENT_LINE_KIND_LATE_REFUND: SettlementLineKind
SETTLEMENT_LINE_KIND_LATE_ORDER: SettlementLineKind
SETTLEMENT_LINE_KIND_COMMISSION: SettlementLineKind
SETTLEMENT_LINE_KIND_COMMISSION_CLAWBACK: SettlementLineKind

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
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class OrderAttribution(_message.Message):
    __slots__ = ("order", "store", "dealer", "paid_fen", "refunded_fen", "routing", "pay_time")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    DEALER_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    PAY_TIME_FIELD_NUMBER: _ClassVar[int]
    order: str
    store: str
    dealer: str
    paid_fen: int
    refunded_fen: int
    routing: _orders_pb2.RoutingDecision
    pay_time: _timestamp_pb2.Timestamp
    def __init__(self, order: _Optional[str] = ..., store: _Optional[str] = ..., dealer: _Optional[str] = ..., paid_fen: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., routing: _Optional[_Union[_orders_pb2.RoutingDecision, _Mapping]] = ..., pay_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSettlementStatementRequest(_message.Message):
    __slots__ = ("dealer", "month", "page_size", "page_token")
    DEALER_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dealer: str
    month: str
    page_size: int
    page_token: str
    def __init__(self, dealer: _Optional[str] = ..., month: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SettlementLine(_message.Message):
    __slots__ = ("order", "store", "kind", "amount_fen", "original_month", "book_time", "guide")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_MONTH_FIELD_NUMBER: _ClassVar[int]
    BOOK_TIME_FIELD_NUMBER: _ClassVar[int]
    GUIDE_FIELD_NUMBER: _ClassVar[int]
    order: str
    store: str
    kind: SettlementLineKind
    amount_fen: int
    original_month: str
    book_time: _timestamp_pb2.Timestamp
    guide: str
    def __init__(self, order: _Optional[str] = ..., store: _Optional[str] = ..., kind: _Optional[_Union[SettlementLineKind, str]] = ..., amount_fen: _Optional[int] = ..., original_month: _Optional[str] = ..., book_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., guide: _Optional[str] = ...) -> None: ...

class SettlementStatement(_message.Message):
    __slots__ = ("dealer", "month", "closed", "revenue_fen", "refunds_fen", "net_fen", "commission_fen", "order_count", "lines", "next_page_token", "close_time", "line_count", "lines_sha256", "reproduced")
    DEALER_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FEN_FIELD_NUMBER: _ClassVar[int]
    NET_FEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    LINE_COUNT_FIELD_NUMBER: _ClassVar[int]
    LINES_SHA256_FIELD_NUMBER: _ClassVar[int]
    REPRODUCED_FIELD_NUMBER: _ClassVar[int]
    dealer: str
    month: str
    closed: bool
    revenue_fen: int
    refunds_fen: int
    net_fen: int
    commission_fen: int
    order_count: int
    lines: _containers.RepeatedCompositeFieldContainer[SettlementLine]
    next_page_token: str
    close_time: _timestamp_pb2.Timestamp
    line_count: int
    lines_sha256: str
    reproduced: bool
    def __init__(self, dealer: _Optional[str] = ..., month: _Optional[str] = ..., closed: _Optional[bool] = ..., revenue_fen: _Optional[int] = ..., refunds_fen: _Optional[int] = ..., net_fen: _Optional[int] = ..., commission_fen: _Optional[int] = ..., order_count: _Optional[int] = ..., lines: _Optional[_Iterable[_Union[SettlementLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., line_count: _Optional[int] = ..., lines_sha256: _Optional[str] = ..., reproduced: _Optional[bool] = ...) -> None: ...

class CloseSettlementPeriodRequest(_message.Message):
    __slots__ = ("request_id", "dealer", "month")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DEALER_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    dealer: str
    month: str
    def __init__(self, request_id: _Optional[str] = ..., dealer: _Optional[str] = ..., month: _Optional[str] = ...) -> None: ...

class ExportLedgerCsvRequest(_message.Message):
    __slots__ = ("dealer", "from_day", "to_day")
    DEALER_FIELD_NUMBER: _ClassVar[int]
    FROM_DAY_FIELD_NUMBER: _ClassVar[int]
    TO_DAY_FIELD_NUMBER: _ClassVar[int]
    dealer: str
    from_day: str
    to_day: str
    def __init__(self, dealer: _Optional[str] = ..., from_day: _Optional[str] = ..., to_day: _Optional[str] = ...) -> None: ...

class CsvChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...
