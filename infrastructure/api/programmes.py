"""ProgrammeService: operators publish their brand's rules; auditors and the mini-program read any of its versions.

Conversion is by omission: a field the client leaves unset (an UNSPECIFIED
enum, an empty tier_rules or precedence, an unset optional) is not passed to
``LoyaltyProgramme``, so the domain's own default applies and the domain's own
validation decides what is acceptable (its ``InvalidArgument`` becomes
INVALID_ARGUMENT). Enum numbers this server does not know are refused here.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from application.auth import Role, brand_scope
from application.commands import Call
from application.programmes import ProgrammeCatalog
from domain.attribution import AttributionPolicy, AttributionSource, StockFallback
from domain.errors import InvalidArgument
from domain.loyalty_args import check_text
from domain.programme import BindingMode, CapPeriod, ExpiryPolicy, LoyaltyProgramme
from domain.tiers import DowngradePolicy, Tier, TierRule
from infrastructure.api.rpc import Servicer, idempotency, unary
from protos.loyalty.v1 import members_pb2, programmes_pb2_grpc
from protos.loyalty.v1 import programmes_pb2 as pb

READ = (Role.OPERATOR, Role.AUDITOR, Role.MINIPROGRAM)

INT_FIELDS = (
    "points_per_yuan",
    "pending_days",
    "expiry_days",
    "tier_window_days",
    "referral_reward_points",
    "referral_cap_per_period",
    "protection_days",
    "handover_waiting_hours",
    "handover_max_per_customer",
    "handover_limit_days",
    "guide_customer_limit",
    "guide_commission_bps",
    "guide_credit_customer_added",
    "guide_credit_referral",
    "guide_credit_per_yuan_sales",
    "return_window_days",
    "payment_timeout_minutes",
)
# field -> (domain enum, proto enum, value-name prefix)
ENUM_FIELDS: dict[str, tuple[type[Enum], Any, str]] = {
    "expiry_policy": (ExpiryPolicy, pb.ExpiryPolicy, "EXPIRY_POLICY_"),
    "downgrade_policy": (DowngradePolicy, pb.DowngradePolicy, "DOWNGRADE_POLICY_"),
    "referral_cap_period": (CapPeriod, pb.ReferralCapPeriod, "REFERRAL_CAP_PERIOD_"),
    "binding_mode": (BindingMode, pb.BindingMode, "BINDING_MODE_"),
}
SOURCE = (AttributionSource, pb.AttributionSource, "ATTRIBUTION_SOURCE_")
STOCK_FALLBACK = (StockFallback, pb.StockFallback, "STOCK_FALLBACK_")


def _enum(value: int, kind: tuple[type[Enum], Any, str], field: str) -> Enum:
    domain, wire, prefix = kind
    if value not in wire.values() or value == 0:
        raise InvalidArgument(f"{field} is not a known value", reason="INVALID_ENUM", field=field, value=value)
    return domain[wire.Name(value).removeprefix(prefix)]


def _enum_value(member: Enum, kind: tuple[type[Enum], Any, str]) -> str:
    """The wire label (a message constructor takes it for an enum field and refuses an unknown one)."""
    _, _, prefix = kind
    return prefix + member.name


def _tier_rule(msg: pb.TierRule) -> TierRule:
    if msg.tier not in members_pb2.Tier.values() or msg.tier == members_pb2.TIER_UNSPECIFIED:
        raise InvalidArgument("tier_rules.tier must be a tier", reason="INVALID_ENUM", field="tier_rules.tier")
    return TierRule(
        Tier[members_pb2.Tier.Name(msg.tier).removeprefix("TIER_")], msg.min_paid_fen, msg.min_points_earned
    )


def _attribution(msg: pb.AttributionRules) -> AttributionPolicy:
    kwargs: dict[str, Any] = {}
    if msg.precedence:
        kwargs["precedence"] = tuple(_enum(v, SOURCE, "attribution.precedence") for v in msg.precedence)
    for name in (
        "fallback_target",
        "credit_bound_guide",
        "max_distance_m",
        "tie_tolerance_m",
        "pickup_max_distance_m",
        "delivery_ignores_opening_hours",
        "stock_max_distance_m",
    ):
        if msg.HasField(name):
            kwargs[name] = getattr(msg, name)
    if msg.stock_fallback:
        kwargs["stock_fallback"] = _enum(msg.stock_fallback, STOCK_FALLBACK, "attribution.stock_fallback")
    if "fallback_target" in kwargs:
        check_text("attribution.fallback_target", kwargs["fallback_target"])
    return AttributionPolicy(**kwargs)


def programme_from(msg: pb.Programme) -> LoyaltyProgramme:
    kwargs: dict[str, Any] = {name: getattr(msg, name) for name in INT_FIELDS if msg.HasField(name)}
    for name, kind in ENUM_FIELDS.items():
        if getattr(msg, name):
            kwargs[name] = _enum(getattr(msg, name), kind, name)
    if msg.tier_rules:
        kwargs["tier_rules"] = tuple(_tier_rule(r) for r in msg.tier_rules)
    if msg.HasField("attribution"):
        kwargs["attribution"] = _attribution(msg.attribution)
    return LoyaltyProgramme(brand=msg.brand, version=msg.version, **kwargs)


def _scalar_fields(programme: LoyaltyProgramme) -> dict[str, Any]:
    fields: dict[str, Any] = {name: getattr(programme, name) for name in INT_FIELDS}
    fields.update({name: _enum_value(getattr(programme, name), kind) for name, kind in ENUM_FIELDS.items()})
    return fields


def programme_message(programme: LoyaltyProgramme) -> pb.Programme:
    policy = programme.attribution
    return pb.Programme(
        brand=programme.brand,
        version=programme.version,
        tier_rules=[
            pb.TierRule(tier=f"TIER_{r.tier.name}", min_paid_fen=r.min_paid_fen, min_points_earned=r.min_points_earned)
            for r in programme.tier_rules
        ],
        attribution=pb.AttributionRules(
            precedence=[_enum_value(s, SOURCE) for s in policy.precedence],
            fallback_target=policy.fallback_target,
            credit_bound_guide=policy.credit_bound_guide,
            max_distance_m=policy.max_distance_m,
            tie_tolerance_m=policy.tie_tolerance_m,
            pickup_max_distance_m=policy.pickup_max_distance_m,
            delivery_ignores_opening_hours=policy.delivery_ignores_opening_hours,
            stock_fallback=_enum_value(policy.stock_fallback, STOCK_FALLBACK),
            stock_max_distance_m=policy.stock_max_distance_m,
        ),
        **_scalar_fields(programme),
    )


class ProgrammeServicer(Servicer, programmes_pb2_grpc.ProgrammeServiceServicer):
    def __init__(self, auth, programmes: ProgrammeCatalog) -> None:
        super().__init__(auth)
        self.programmes = programmes

    @unary(Role.OPERATOR)
    async def PublishProgramme(self, request: pb.PublishProgrammeRequest, principal) -> pb.Programme:
        call = Call(
            idempotency(request, "PublishProgramme", principal), lambda p: programme_message(p).SerializeToString()
        )
        if not request.HasField("programme"):
            raise InvalidArgument("programme is required", reason="FIELD_REQUIRED", field="programme")
        message = pb.Programme()
        message.CopyFrom(request.programme)
        message.brand = brand_scope(principal, request.programme.brand)
        programme = programme_from(message)
        return await self.programmes.publish(programme, call=call)

    @unary(*READ)
    async def GetProgramme(self, request: pb.GetProgrammeRequest, principal) -> pb.Programme:
        brand = brand_scope(principal, request.brand)
        if request.version < 0:
            raise InvalidArgument("version is 0 (current) or a version number", reason="OUT_OF_RANGE", field="version")
        if request.version == 0:
            return programme_message(await self.programmes.current(brand))
        return programme_message(await self.programmes.version(brand, request.version))
