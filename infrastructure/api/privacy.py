"""PrivacyService: erasure, export and marketing consent of a member, erasure of a guide (PIPL)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

import orjson

from application.auth import Role
from application.commands import Call
from application.guides import GuideService
from application.members import MemberService
from application.orders import OrderService
from domain.errors import InvalidArgument, NotFound
from domain.guide import Guide
from domain.member import Member
from infrastructure.api import names
from infrastructure.api.members import timestamp
from infrastructure.api.names import GUIDES, MEMBERS, ORDERS, STORES
from infrastructure.api.rpc import Servicer, idempotency, streaming, unary
from infrastructure.projections.member_orders import every_order_of
from protos.loyalty.v1 import privacy_pb2 as pb
from protos.loyalty.v1 import privacy_pb2_grpc

WRITE = (Role.MINIPROGRAM, Role.OPERATOR)
READ = (Role.MINIPROGRAM, Role.OPERATOR, Role.AUDITOR)


def receipt(member: Member) -> pb.ErasureReceipt:
    by, reason = getattr(member, "erasure", ("", ""))
    message = pb.ErasureReceipt(name=names.name(MEMBERS, member.id), requested_by=by, reason=reason)
    if (erased_at := getattr(member, "erased_at", None)) is not None:
        message.erase_time.CopyFrom(timestamp(erased_at))
    return message


def guide_receipt(guide: Guide) -> pb.GuideErasureReceipt:
    by, reason = getattr(guide, "erasure", ("", ""))
    message = pb.GuideErasureReceipt(name=names.name(GUIDES, guide.id), requested_by=by, reason=reason)
    if (erased_at := getattr(guide, "erased_at", None)) is not None:
        message.erase_time.CopyFrom(timestamp(erased_at))
    return message


def consent_message(member: Member) -> pb.MarketingConsent:
    message = pb.MarketingConsent(name=names.name(MEMBERS, member.id))
    consent = getattr(member, "consent", None)
    if consent is not None:
        granted, channel, at = consent
        message.state = pb.MARKETING_CONSENT_STATE_GRANTED if granted else pb.MARKETING_CONSENT_STATE_WITHDRAWN
        message.channel = channel
        message.decide_time.CopyFrom(timestamp(at))
    return message


def _plain(value: Any) -> Any:
    """JSON-ready: ids and times as strings, value objects as objects."""
    if isinstance(value, (UUID, datetime, date)):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    return value


BINDING_EVENTS = frozenset({"GuideBound", "GuideUnbound", "CustomerHandedOver", "HomeStoreSet"})
REFERRAL_EVENTS = frozenset({"ReferrerAccepted", "ReferralRecorded", "ReferralRewarded", "ReferralRewardForfeited"})
CONSENT_EVENTS = frozenset({"MarketingConsentRecorded"})
_EVENT_HEADER = ("originator_id", "originator_version", "timestamp")


def _events(events: list[Any], kinds: frozenset[str]) -> list[dict[str, Any]]:
    """The member's events of these kinds, oldest first: what happened, when, and its fields."""
    return [
        {
            "event": type(e).__name__,
            "version": e.originator_version,
            "time": e.timestamp,
            **{k: v for k, v in vars(e).items() if k not in _EVENT_HEADER},
        }
        for e in events
        if type(e).__name__ in kinds
    ]


def identities(member: Member) -> list[dict[str, Any]]:
    """The logins the member is known by (null values once erased: the index holds no value in clear)."""
    return [
        {"kind": kind, "value": value}
        for kind, value in (("OPENID", member.openid), ("UNIONID", member.unionid), ("PHONE", member.phone))
        if value is not None or member.erased
    ]


def profile(member: Member) -> dict[str, Any]:
    consent = getattr(member, "consent", None)
    return _plain(
        {
            "name": names.name(MEMBERS, member.id),
            "brand": member.brand,
            "erased": member.erased,
            "erase_time": getattr(member, "erased_at", None),
            "openid": member.openid,
            "unionid": member.unionid,
            "phone": member.phone,
            "nickname": member.nickname,
            "birthday": member.birthday,
            "registered_time": member.registered_at,
            "tier": member.tier,
            "tier_floor": member.tier_floor,
            "points": member.totals(),
            "guide": member.guide_id,
            "home_store": member.home_store_id,
            "referred_by": member.referred_by,
            "invitees": member.invitees,
            "merged_into": member.merged_into,
            "absorbed": member.absorbed,
            "marketing_consent": None
            if consent is None
            else {"granted": consent[0], "channel": consent[1], "decide_time": consent[2]},
        }
    )


class PrivacyServicer(Servicer, privacy_pb2_grpc.PrivacyServiceServicer):
    def __init__(
        self, auth, members: MemberService, orders: OrderService, guides: GuideService, store: Any, mapper: Any
    ) -> None:
        super().__init__(auth)
        self.members = members
        self.orders = orders
        self.guides = guides
        self.store = store  # the primary: the export reads the member_orders read model and the log after it
        self.mapper = mapper

    @unary(*WRITE)
    async def EraseMember(self, request: pb.EraseMemberRequest, principal) -> pb.ErasureReceipt:
        call = Call(idempotency(request, "EraseMember", principal), lambda m: receipt(m).SerializeToString())
        member_id = names.parse(request.name, MEMBERS, field="name")
        if not request.requested_by:
            raise InvalidArgument("requested_by is required", reason="FIELD_REQUIRED", field="requested_by")
        if not request.reason:
            raise InvalidArgument("reason is required", reason="FIELD_REQUIRED", field="reason")
        data = await self.members.erase(
            member_id, request.requested_by, request.reason, call=call, brand=principal.brand
        )
        return data

    @unary(Role.OPERATOR)
    async def EraseGuide(self, request: pb.EraseGuideRequest, principal) -> pb.GuideErasureReceipt:
        call = Call(idempotency(request, "EraseGuide", principal), lambda g: guide_receipt(g).SerializeToString())
        guide_id = names.parse(request.name, GUIDES, field="name")
        if not request.requested_by:
            raise InvalidArgument("requested_by is required", reason="FIELD_REQUIRED", field="requested_by")
        if not request.reason:
            raise InvalidArgument("reason is required", reason="FIELD_REQUIRED", field="reason")
        data = await self.guides.erase(guide_id, request.requested_by, request.reason, call=call, brand=principal.brand)
        return data

    @streaming(*READ)
    async def ExportMemberData(self, request: pb.ExportMemberDataRequest, principal):
        """Everything held about the member (PIPL Art. 45): profile, identities, points history, bindings,
        referrals and consents as they happened, the erasure receipt, then every order in every status
        (including those of members merged into this one), one chunk each."""
        member_id = names.parse(request.name, MEMBERS, field="name")
        member, events = await self.members.recorded(member_id, brand=principal.brand)

        def chunk(section: pb.MemberDataSection, document: Any) -> pb.MemberDataChunk:
            return pb.MemberDataChunk(section=section, json=orjson.dumps(_plain(document)).decode())

        yield chunk(pb.MEMBER_DATA_SECTION_PROFILE, profile(member))
        yield chunk(pb.MEMBER_DATA_SECTION_IDENTITIES, identities(member))
        yield chunk(pb.MEMBER_DATA_SECTION_POINTS_HISTORY, list(member.history()))
        yield chunk(
            pb.MEMBER_DATA_SECTION_BINDINGS,
            {
                "guide": names.name(GUIDES, member.guide_id),
                "guide_store": names.name(STORES, getattr(member, "guide_store_id", None)),
                "bound_time": getattr(member, "bound_at", None),
                "home_store": names.name(STORES, member.home_store_id),
                "events": _events(events, BINDING_EVENTS),
            },
        )
        yield chunk(
            pb.MEMBER_DATA_SECTION_REFERRALS,
            {
                "referred_by": names.name(MEMBERS, member.referred_by),
                "invitees": [names.name(MEMBERS, i) for i in member.invitees],
                "events": _events(events, REFERRAL_EVENTS),
            },
        )
        yield chunk(
            pb.MEMBER_DATA_SECTION_CONSENTS,
            {"current": profile(member)["marketing_consent"], "events": _events(events, CONSENT_EVENTS)},
        )
        by, reason = getattr(member, "erasure", (None, None))
        yield chunk(
            pb.MEMBER_DATA_SECTION_ERASURE,
            {
                "erased": member.erased,
                "erase_time": getattr(member, "erased_at", None),
                "requested_by": by,
                "reason": reason,
            },
        )
        member_ids = [member.id, *member.absorbed]
        for order_id in await every_order_of(self.store, self.mapper, principal.brand, member_ids):
            try:
                order = await self.orders.get(order_id, brand=principal.brand)
            except NotFound:  # nothing to show (cannot happen: orders are never deleted)
                continue
            state = {k: v for k, v in vars(order).items() if not k.startswith("_")}
            yield chunk(
                pb.MEMBER_DATA_SECTION_ORDER,
                {"name": names.name(ORDERS, order.id), "version": order.version, **state},
            )

    @unary(*WRITE)
    async def RecordMarketingConsent(self, request: pb.RecordMarketingConsentRequest, principal) -> pb.MarketingConsent:
        call = Call(
            idempotency(request, "RecordMarketingConsent", principal), lambda m: consent_message(m).SerializeToString()
        )
        if not request.channel:
            raise InvalidArgument("channel is required", reason="FIELD_REQUIRED", field="channel")
        data = await self.members.record_consent(
            names.parse(request.name, MEMBERS, field="name"),
            request.granted,
            request.channel,
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(*READ)
    async def GetMarketingConsent(self, request: pb.GetMarketingConsentRequest, principal) -> pb.MarketingConsent:
        member = await self.members.get(names.parse(request.name, MEMBERS, field="name"), brand=principal.brand)
        return consent_message(member)
