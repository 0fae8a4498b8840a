from google.api import field_behavior_pb2 as _field_behavior_pb2
from protos.loyalty.v1 import members_pb2 as _members_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExpiryPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPIRY_POLICY_UNSPECIFIED: _ClassVar[ExpiryPolicy]
    EXPIRY_POLICY_ROLLING_DAYS: _ClassVar[ExpiryPolicy]
    EXPIRY_POLICY_END_OF_MONTH: _ClassVar[ExpiryPolicy]
    EXPIRY_POLICY_END_OF_YEAR: _ClassVar[ExpiryPolicy]
    EXPIRY_POLICY_NEVER: _ClassVar[ExpiryPolicy]

class DowngradePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOWNGRADE_POLICY_UNSPECIFIED: _ClassVar[DowngradePolicy]
    DOWNGRADE_POLICY_ONE_STEP: _ClassVar[DowngradePolicy]
    DOWNGRADE_POLICY_RECOMPUTE: _ClassVar[DowngradePolicy]

class ReferralCapPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFERRAL_CAP_PERIOD_UNSPECIFIED: _ClassVar[ReferralCapPeriod]
    REFERRAL_CAP_PERIOD_CALENDAR_MONTH: _ClassVar[ReferralCapPeriod]
    REFERRAL_CAP_PERIOD_CALENDAR_YEAR: _ClassVar[ReferralCapPeriod]

class BindingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BINDING_MODE_UNSPECIFIED: _ClassVar[BindingMode]
    BINDING_MODE_FIRST_GUIDE_KEEPS: _ClassVar[BindingMode]
    BINDING_MODE_LATEST_GUIDE_WINS: _ClassVar[BindingMode]

class AttributionSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTRIBUTION_SOURCE_UNSPECIFIED: _ClassVar[AttributionSource]
    ATTRIBUTION_SOURCE_ENTRY_CONTEXT: _ClassVar[AttributionSource]
    ATTRIBUTION_SOURCE_BOUND_GUIDE_STORE: _ClassVar[AttributionSource]
    ATTRIBUTION_SOURCE_HOME_STORE: _ClassVar[AttributionSource]
    ATTRIBUTION_SOURCE_NEAREST: _ClassVar[AttributionSource]

class StockFallback(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOCK_FALLBACK_UNSPECIFIED: _ClassVar[StockFallback]
    STOCK_FALLBACK_UNALLOCATED: _ClassVar[StockFallback]
    STOCK_FALLBACK_NEAREST_IN_STOCK: _ClassVar[StockFallback]
    STOCK_FALLBACK_SPLIT: _ClassVar[StockFallback]
EXPIRY_POLICY_UNSPECIFIED: ExpiryPolicy
EXPIRY_POLICY_ROLLING_DAYS: ExpiryPolicy
EXPIRY_POLICY_END_OF_MONTH: ExpiryPolicy
EXPIRY_POLICY_END_OF_YEAR: ExpiryPolicy
EXPIRY_POLICY_NEVER: ExpiryPolicy
DOWNGRADE_POLICY_UNSPECIFIED: DowngradePolicy
DOWNGRADE_POLICY_ONE_STEP: DowngradePolicy
DOWNGRADE_POLICY_RECOMPUTE: DowngradePolicy
REFERRAL_CAP_PERIOD_UNSPECIFIED: ReferralCapPeriod
REFERRAL_CAP_PERIOD_CALENDAR_MONTH: ReferralCapPeriod
REFERRAL_CAP_PERIOD_CALENDAR_YEAR: ReferralCapPeriod
BINDING_MODE_UNSPECIFIED: BindingMode
BINDING_MODE_FIRST_GUIDE_KEEPS: BindingMode
BINDING_MODE_LATEST_GUIDE_WINS: BindingMode
ATTRIBUTION_SOURCE_UNSPECIFIED: AttributionSource
ATTRIBUTION_SOURCE_ENTRY_CONTEXT: AttributionSource
ATTRIBUTION_SOURCE_BOUND_GUIDE_STORE: AttributionSource
ATTRIBUTION_SOURCE_HOME_STORE: AttributionSource
ATTRIBUTION_SOURCE_NEAREST: AttributionSource
STOCK_FALLBACK_UNSPECIFIED: StockFallback
STOCK_FALLBACK_UNALLOCATED: StockFallback
STOCK_FALLBACK_NEAREST_IN_STOCK: StockFallback
STOCK_FALLBACK_SPLIT: StockFallback

class TierRule(_message.Message):
    __slots__ = ("tier", "min_paid_fen", "min_points_earned")
    TIER_FIELD_NUMBER: _ClassVar[int]
    MIN_PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    MIN_POINTS_EARNED_FIELD_NUMBER: _ClassVar[int]
    tier: _members_pb2.Tier
    min_paid_fen: int
    min_points_earned: int
    def __init__(self, tier: _Optional[_Union[_members_pb2.Tier, str]] = ..., min_paid_fen: _Optional[int] = ..., min_points_earned: _Optional[int] = ...) -> None: ...

class AttributionRules(_message.Message):
    __slots__ = ("precedence", "fallback_target", "credit_bound_guide", "max_distance_m", "tie_tolerance_m", "pickup_max_distance_m", "delivery_ignores_opening_hours", "stock_fallback", "stock_max_distance_m")
    PRECEDENCE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_TARGET_FIELD_NUMBER: _ClassVar[int]
    CREDIT_BOUND_GUIDE_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    TIE_TOLERANCE_M_FIELD_NUMBER: _ClassVar[int]
    PICKUP_MAX_DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_IGNORES_OPENING_HOURS_FIELD_NUMBER: _ClassVar[int]
    STOCK_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    STOCK_MAX_DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    precedence: _containers.RepeatedScalarFieldContainer[AttributionSource]
    fallback_target: str
    credit_bound_guide: bool
    max_distance_m: int
    tie_tolerance_m: int
    pickup_max_distance_m: int
    delivery_ignores_opening_hours: bool
    stock_fallback: StockFallback
    stock_max_distance_m: int
    def __init__(self, precedence: _Optional[_Iterable[_Union[AttributionSource, str]]] = ..., fallback_target: _Optional[str] = ..., credit_bound_guide: _Optional[bool] = ..., max_distance_m: _Optional[int] = ..., tie_tolerance_m: _Optional[int] = ..., pickup_max_distance_m: _Optional[int] = ..., delivery_ignores_opening_hours: _Optional[bool] = ..., stock_fallback: _Optional[_Union[StockFallback, str]] = ..., stock_max_distance_m: _Optional[int] = ...) -> None: ...

class Programme(_message.Message):
    __slots__ = ("brand", "version", "points_per_yuan", "pending_days", "expiry_policy", "expiry_days", "tier_window_days", "tier_rules", "downgrade_policy", "referral_reward_points", "referral_cap_per_period", "referral_cap_period", "binding_mode", "protection_days", "handover_waiting_hours", "handover_max_per_customer", "handover_limit_days", "guide_customer_limit", "guide_commission_bps", "guide_credit_customer_added", "guide_credit_referral", "guide_credit_per_yuan_sales", "return_window_days", "attribution", "payment_timeout_minutes")
    BRAND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POINTS_PER_YUAN_FIELD_NUMBER: _ClassVar[int]
    PENDING_DAYS_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DAYS_FIELD_NUMBER: _ClassVar[int]
    TIER_WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    TIER_RULES_FIELD_NUMBER: _ClassVar[int]
    DOWNGRADE_POLICY_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_REWARD_POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CAP_PER_PERIOD_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CAP_PERIOD_FIELD_NUMBER: _ClassVar[int]
    BINDING_MODE_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    HANDOVER_WAITING_HOURS_FIELD_NUMBER: _ClassVar[int]
    HANDOVER_MAX_PER_CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    HANDOVER_LIMIT_DAYS_FIELD_NUMBER: _ClassVar[int]
    GUIDE_CUSTOMER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    GUIDE_COMMISSION_BPS_FIELD_NUMBER: _ClassVar[int]
    GUIDE_CREDIT_CUSTOMER_ADDED_FIELD_NUMBER: _ClassVar[int]
    GUIDE_CREDIT_REFERRAL_FIELD_NUMBER: _ClassVar[int]
    GUIDE_CREDIT_PER_YUAN_SALES_FIELD_NUMBER: _ClassVar[int]
    RETURN_WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_TIMEOUT_MINUTES_FIELD_NUMBER: _ClassVar[int]
    brand: str
    version: int
    points_per_yuan: int
    pending_days: int
    expiry_policy: ExpiryPolicy
    expiry_days: int
    tier_window_days: int
    tier_rules: _containers.RepeatedCompositeFieldContainer[TierRule]
    downgrade_policy: DowngradePolicy
    referral_reward_points: int
    referral_cap_per_period: int
    referral_cap_period: ReferralCapPeriod
    binding_mode: BindingMode
    protection_days: int
    handover_waiting_hours: int
    handover_max_per_customer: int
    handover_limit_days: int
    guide_customer_limit: int
    guide_commission_bps: int
    guide_credit_customer_added: int
    guide_credit_referral: int
    guide_credit_per_yuan_sales: int
    return_window_days: int
    attribution: AttributionRules
    payment_timeout_minutes: int
    def __init__(self, brand: _Optional[str] = ..., version: _Optional[int] = ..., points_per_yuan: _Optional[int] = ..., pending_days: _Optional[int] = ..., expiry_policy: _Optional[_Union[ExpiryPolicy, str]] = ..., expiry_days: _Optional[int] = ..., tier_window_days: _Optional[int] = ..., tier_rules: _Optional[_Iterable[_Union[TierRule, _Mapping]]] = ..., downgrade_policy: _Optional[_Union[DowngradePolicy, str]] = ..., referral_reward_points: _Optional[int] = ..., referral_cap_per_period: _Optional[int] = ..., referral_cap_period: _Optional[_Union[ReferralCapPeriod, str]] = ..., binding_mode: _Optional[_Union[BindingMode, str]] = ..., protection_days: _Optional[int] = ..., handover_waiting_hours: _Optional[int] = ..., handover_max_per_customer: _Optional[int] = ..., handover_limit_days: _Optional[int] = ..., guide_customer_limit: _Optional[int] = ..., guide_commission_bps: _Optional[int] = ..., guide_credit_customer_added: _Optional[int] = ..., guide_credit_referral: _Optional[int] = ..., guide_credit_per_yuan_sales: _Optional[int] = ..., return_window_days: _Optional[int] = ..., attribution: _Optional[_Union[AttributionRules, _Mapping]] = ..., payment_timeout_minutes: _Optional[int] = ...) -> None: ...

class PublishProgrammeRequest(_message.Message):
    __slots__ = ("request_id", "programme")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAMME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    programme: Programme
    def __init__(self, request_id: _Optional[str] = ..., programme: _Optional[_Union[Programme, _Mapping]] = ...) -> None: ...

class GetProgrammeRequest(_message.Message):
    __slots__ = ("brand", "version")
    BRAND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    brand: str
    version: int
    def __init__(self, brand: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...
