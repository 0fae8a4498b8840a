import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.loyalty.v1 import common_pb2 as _common_pb2
from protos.loyalty.v1 import programmes_pb2 as _programmes_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_KIND_UNSPECIFIED: _ClassVar[EntryKind]
    ENTRY_KIND_STORE_QR: _ClassVar[EntryKind]
    ENTRY_KIND_GUIDE_SHARE: _ClassVar[EntryKind]

class OrderState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATE_UNSPECIFIED: _ClassVar[OrderState]
    ORDER_STATE_PLACED: _ClassVar[OrderState]
    ORDER_STATE_ALLOCATED: _ClassVar[OrderState]
    ORDER_STATE_UNALLOCATED: _ClassVar[OrderState]
    ORDER_STATE_PAID: _ClassVar[OrderState]
    ORDER_STATE_FULFILLED: _ClassVar[OrderState]
    ORDER_STATE_CANCELLED: _ClassVar[OrderState]
    ORDER_STATE_REFUNDED: _ClassVar[OrderState]

class RejectionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECTION_REASON_UNSPECIFIED: _ClassVar[RejectionReason]
    REJECTION_REASON_STORE_SUSPENDED: _ClassVar[RejectionReason]
    REJECTION_REASON_STORE_CLOSED: _ClassVar[RejectionReason]
    REJECTION_REASON_ONLINE_ORDERS_DISABLED: _ClassVar[RejectionReason]
    REJECTION_REASON_MODE_NOT_SUPPORTED: _ClassVar[RejectionReason]
    REJECTION_REASON_OUTSIDE_OPENING_HOURS: _ClassVar[RejectionReason]
    REJECTION_REASON_OUTSIDE_SERVICE_RADIUS: _ClassVar[RejectionReason]
    REJECTION_REASON_BEYOND_MAX_DISTANCE: _ClassVar[RejectionReason]
    REJECTION_REASON_BEYOND_PICKUP_DISTANCE: _ClassVar[RejectionReason]
    REJECTION_REASON_CAPACITY_REACHED: _ClassVar[RejectionReason]
    REJECTION_REASON_OUT_OF_STOCK: _ClassVar[RejectionReason]

class StepOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_OUTCOME_UNSPECIFIED: _ClassVar[StepOutcome]
    STEP_OUTCOME_CHOSEN: _ClassVar[StepOutcome]
    STEP_OUTCOME_SKIPPED: _ClassVar[StepOutcome]

class StepReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_REASON_UNSPECIFIED: _ClassVar[StepReason]
    STEP_REASON_ELIGIBLE: _ClassVar[StepReason]
    STEP_REASON_NEAREST_ELIGIBLE: _ClassVar[StepReason]
    STEP_REASON_TIE_ROTATION: _ClassVar[StepReason]
    STEP_REASON_NO_ENTRY_CONTEXT: _ClassVar[StepReason]
    STEP_REASON_NO_BOUND_GUIDE: _ClassVar[StepReason]
    STEP_REASON_NO_HOME_STORE: _ClassVar[StepReason]
    STEP_REASON_NOT_A_CANDIDATE: _ClassVar[StepReason]
    STEP_REASON_INELIGIBLE: _ClassVar[StepReason]
    STEP_REASON_NO_ELIGIBLE_STORE: _ClassVar[StepReason]
    STEP_REASON_GUIDE_LEFT: _ClassVar[StepReason]
    STEP_REASON_NEAREST_IN_STOCK: _ClassVar[StepReason]
    STEP_REASON_SPLIT_ACROSS_STORES: _ClassVar[StepReason]
    STEP_REASON_DROP_POOL: _ClassVar[StepReason]

class GuideCreditSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GUIDE_CREDIT_SOURCE_UNSPECIFIED: _ClassVar[GuideCreditSource]
    GUIDE_CREDIT_SOURCE_GUIDE_SHARE: _ClassVar[GuideCreditSource]
    GUIDE_CREDIT_SOURCE_BOUND_GUIDE: _ClassVar[GuideCreditSource]

class UnallocatedReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNALLOCATED_REASON_UNSPECIFIED: _ClassVar[UnallocatedReason]
    UNALLOCATED_REASON_NO_CANDIDATES: _ClassVar[UnallocatedReason]
    UNALLOCATED_REASON_NO_ELIGIBLE_STORE: _ClassVar[UnallocatedReason]
    UNALLOCATED_REASON_PRECEDENCE_EXHAUSTED: _ClassVar[UnallocatedReason]
    UNALLOCATED_REASON_SPLIT: _ClassVar[UnallocatedReason]
ENTRY_KIND_UNSPECIFIED: EntryKind
ENTRY_KIND_STORE_QR: EntryKind
ENTRY_KIND_GUIDE_SHARE: EntryKind
ORDER_STATE_UNSPECIFIED: OrderState
ORDER_STATE_PLACED: OrderState
ORDER_STATE_ALLOCATED: OrderState
ORDER_STATE_UNALLOCATED: OrderState
ORDER_STATE_PAID: OrderState
ORDER_STATE_FULFILLED: OrderState
ORDER_STATE_CANCELLED: OrderState
ORDER_STATE_REFUNDED: OrderState
REJECTION_REASON_UNSPECIFIED: RejectionReason
REJECTION_REASON_STORE_SUSPENDED: RejectionReason
REJECTION_REASON_STORE_CLOSED: RejectionReason
REJECTION_REASON_ONLINE_ORDERS_DISABLED: RejectionReason
REJECTION_REASON_MODE_NOT_SUPPORTED: RejectionReason
REJECTION_REASON_OUTSIDE_OPENING_HOURS: RejectionReason
REJECTION_REASON_OUTSIDE_SERVICE_RADIUS: RejectionReason
REJECTION_REASON_BEYOND_MAX_DISTANCE: RejectionReason
REJECTION_REASON_BEYOND_PICKUP_DISTANCE: RejectionReason
REJECTION_REASON_CAPACITY_REACHED: RejectionReason
REJECTION_REASON_OUT_OF_STOCK: RejectionReason
STEP_OUTCOME_UNSPECIFIED: StepOutcome
STEP_OUTCOME_CHOSEN: StepOutcome
STEP_OUTCOME_SKIPPED: StepOutcome
STEP_REASON_UNSPECIFIED: StepReason
STEP_REASON_ELIGIBLE: StepReason
STEP_REASON_NEAREST_ELIGIBLE: StepReason
STEP_REASON_TIE_ROTATION: StepReason
STEP_REASON_NO_ENTRY_CONTEXT: StepReason
STEP_REASON_NO_BOUND_GUIDE: StepReason
STEP_REASON_NO_HOME_STORE: StepReason
STEP_REASON_NOT_A_CANDIDATE: StepReason
STEP_REASON_INELIGIBLE: StepReason
STEP_REASON_NO_ELIGIBLE_STORE: StepReason
STEP_REASON_GUIDE_LEFT: StepReason
STEP_REASON_NEAREST_IN_STOCK: StepReason
STEP_REASON_SPLIT_ACROSS_STORES: StepReason
STEP_REASON_DROP_POOL: StepReason
GUIDE_CREDIT_SOURCE_UNSPECIFIED: GuideCreditSource
GUIDE_CREDIT_SOURCE_GUIDE_SHARE: GuideCreditSource
GUIDE_CREDIT_SOURCE_BOUND_GUIDE: GuideCreditSource
UNALLOCATED_REASON_UNSPECIFIED: UnallocatedReason
UNALLOCATED_REASON_NO_CANDIDATES: UnallocatedReason
UNALLOCATED_REASON_NO_ELIGIBLE_STORE: UnallocatedReason
UNALLOCATED_REASON_PRECEDENCE_EXHAUSTED: UnallocatedReason
UNALLOCATED_REASON_SPLIT: UnallocatedReason

class OrderLine(_message.Message):
    __slots__ = ("sku", "quantity", "unit_price_fen")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    unit_price_fen: int
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price_fen: _Optional[int] = ...) -> None: ...

class EntryContext(_message.Message):
    __slots__ = ("kind", "store", "guide")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    GUIDE_FIELD_NUMBER: _ClassVar[int]
    kind: EntryKind
    store: str
    guide: str
    def __init__(self, kind: _Optional[_Union[EntryKind, str]] = ..., store: _Optional[str] = ..., guide: _Optional[str] = ...) -> None: ...

class OrderDraft(_message.Message):
    __slots__ = ("member", "lines", "fulfilment", "customer_location", "entry")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    FULFILMENT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_LOCATION_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    member: str
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    fulfilment: _common_pb2.FulfilmentMode
    customer_location: _common_pb2.Location
    entry: EntryContext
    def __init__(self, member: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ..., fulfilment: _Optional[_Union[_common_pb2.FulfilmentMode, str]] = ..., customer_location: _Optional[_Union[_common_pb2.Location, _Mapping]] = ..., entry: _Optional[_Union[EntryContext, _Mapping]] = ...) -> None: ...

class PlaceOrderRequest(_message.Message):
    __slots__ = ("request_id", "order")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order: OrderDraft
    def __init__(self, request_id: _Optional[str] = ..., order: _Optional[_Union[OrderDraft, _Mapping]] = ...) -> None: ...

class SimulateOrderRequest(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: OrderDraft
    def __init__(self, order: _Optional[_Union[OrderDraft, _Mapping]] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("store", "distance_m", "rejected_because")
    STORE_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BECAUSE_FIELD_NUMBER: _ClassVar[int]
    store: str
    distance_m: float
    rejected_because: _containers.RepeatedScalarFieldContainer[RejectionReason]
    def __init__(self, store: _Optional[str] = ..., distance_m: _Optional[float] = ..., rejected_because: _Optional[_Iterable[_Union[RejectionReason, str]]] = ...) -> None: ...

class AttributionStep(_message.Message):
    __slots__ = ("source", "outcome", "reason", "rejections", "store")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    source: _programmes_pb2.AttributionSource
    outcome: StepOutcome
    reason: StepReason
    rejections: _containers.RepeatedScalarFieldContainer[RejectionReason]
    store: str
    def __init__(self, source: _Optional[_Union[_programmes_pb2.AttributionSource, str]] = ..., outcome: _Optional[_Union[StepOutcome, str]] = ..., reason: _Optional[_Union[StepReason, str]] = ..., rejections: _Optional[_Iterable[_Union[RejectionReason, str]]] = ..., store: _Optional[str] = ...) -> None: ...

class GuideCredit(_message.Message):
    __slots__ = ("guide", "guide_store", "source", "dual_credit")
    GUIDE_FIELD_NUMBER: _ClassVar[int]
    GUIDE_STORE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DUAL_CREDIT_FIELD_NUMBER: _ClassVar[int]
    guide: str
    guide_store: str
    source: GuideCreditSource
    dual_credit: bool
    def __init__(self, guide: _Optional[str] = ..., guide_store: _Optional[str] = ..., source: _Optional[_Union[GuideCreditSource, str]] = ..., dual_credit: _Optional[bool] = ...) -> None: ...

class StockNeed(_message.Message):
    __slots__ = ("sku", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class SplitPart(_message.Message):
    __slots__ = ("order", "store", "dealer", "distance_m", "needs")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    DEALER_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    order: str
    store: str
    dealer: str
    distance_m: float
    needs: _containers.RepeatedCompositeFieldContainer[StockNeed]
    def __init__(self, order: _Optional[str] = ..., store: _Optional[str] = ..., dealer: _Optional[str] = ..., distance_m: _Optional[float] = ..., needs: _Optional[_Iterable[_Union[StockNeed, _Mapping]]] = ...) -> None: ...

class RoutingDecision(_message.Message):
    __slots__ = ("allocated", "store", "dealer", "distance_m", "candidates", "attribution", "guide_credit", "unallocated_reason", "fallback", "programme_version", "split")
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    DEALER_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    GUIDE_CREDIT_FIELD_NUMBER: _ClassVar[int]
    UNALLOCATED_REASON_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    PROGRAMME_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    allocated: bool
    store: str
    dealer: str
    distance_m: float
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    attribution: _containers.RepeatedCompositeFieldContainer[AttributionStep]
    guide_credit: GuideCredit
    unallocated_reason: UnallocatedReason
    fallback: str
    programme_version: int
    split: _containers.RepeatedCompositeFieldContainer[SplitPart]
    def __init__(self, allocated: _Optional[bool] = ..., store: _Optional[str] = ..., dealer: _Optional[str] = ..., distance_m: _Optional[float] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., attribution: _Optional[_Iterable[_Union[AttributionStep, _Mapping]]] = ..., guide_credit: _Optional[_Union[GuideCredit, _Mapping]] = ..., unallocated_reason: _Optional[_Union[UnallocatedReason, str]] = ..., fallback: _Optional[str] = ..., programme_version: _Optional[int] = ..., split: _Optional[_Iterable[_Union[SplitPart, _Mapping]]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("name", "member", "state", "total_fen", "paid_fen", "refunded_fen", "fulfilment", "routing", "place_time", "version", "refunds")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEN_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    FULFILMENT_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    PLACE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    member: str
    state: OrderState
    total_fen: int
    paid_fen: int
    refunded_fen: int
    fulfilment: _common_pb2.FulfilmentMode
    routing: RoutingDecision
    place_time: _timestamp_pb2.Timestamp
    version: int
    refunds: _containers.RepeatedCompositeFieldContainer[Refund]
    def __init__(self, name: _Optional[str] = ..., member: _Optional[str] = ..., state: _Optional[_Union[OrderState, str]] = ..., total_fen: _Optional[int] = ..., paid_fen: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., fulfilment: _Optional[_Union[_common_pb2.FulfilmentMode, str]] = ..., routing: _Optional[_Union[RoutingDecision, _Mapping]] = ..., place_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., refunds: _Optional[_Iterable[_Union[Refund, _Mapping]]] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("refund_id", "amount_fen", "reason", "refund_time")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REFUND_TIME_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    amount_fen: int
    reason: str
    refund_time: _timestamp_pb2.Timestamp
    def __init__(self, refund_id: _Optional[str] = ..., amount_fen: _Optional[int] = ..., reason: _Optional[str] = ..., refund_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PayOrderRequest(_message.Message):
    __slots__ = ("request_id", "name", "paid_fen")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    paid_fen: int
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., paid_fen: _Optional[int] = ...) -> None: ...

class FulfilOrderRequest(_message.Message):
    __slots__ = ("request_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("request_id", "name", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RefundOrderRequest(_message.Message):
    __slots__ = ("request_id", "name", "amount_fen", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    amount_fen: int
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., amount_fen: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class SettleOrderRequest(_message.Message):
    __slots__ = ("request_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
