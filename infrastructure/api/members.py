"""MemberService: the mini-program backend's calls for members and points."""

from __future__ import annotations

from datetime import date, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from application.auth import Role, brand_scope
from application.commands import Call
from application.members import MemberService
from domain.errors import InvalidArgument
from domain.member import Member
from domain.tiers import Tier
from infrastructure.api import names, pages
from infrastructure.api.names import GUIDES, MEMBERS, STORES
from infrastructure.api.rpc import Servicer, idempotency, unary
from protos.loyalty.v1 import members_pb2 as pb
from protos.loyalty.v1 import members_pb2_grpc

WRITE = (Role.MINIPROGRAM, Role.OPERATOR)
READ = (Role.MINIPROGRAM, Role.OPERATOR, Role.AUDITOR)
MAX_PAGE = 1000
DEFAULT_PAGE = 50


def timestamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def member_message(member: Member, now: datetime) -> pb.Member:
    return pb.Member(
        name=names.name(MEMBERS, member.id),
        brand=member.brand,
        openid=member.openid or "",
        unionid=member.unionid or "",
        phone=member.phone or "",
        tier=f"TIER_{member.tier.name}",
        available_points=member.balance(now),
        pending_points=member.pending(now),
        points_debt=member.debt,
        guide=names.name(GUIDES, member.guide_id),
        home_store=names.name(STORES, member.home_store_id),
        referrer=names.name(MEMBERS, member.referred_by),
        merged_into=names.name(MEMBERS, member.merged_into),
        version=member.version,
    )


class MemberServicer(Servicer, members_pb2_grpc.MemberServiceServicer):
    def __init__(self, auth, members: MemberService) -> None:
        super().__init__(auth)
        self.members = members

    def _call(self, request, method: str, principal, build) -> Call:
        now = self.members.clock.now
        return Call(idempotency(request, method, principal), lambda result: build(result, now()).SerializeToString())

    def _member_call(self, request, method: str, principal) -> Call:
        return self._call(request, method, principal, member_message)

    def _points_call(self, request, method: str, principal) -> Call:
        return self._call(
            request,
            method,
            principal,
            lambda result, now: pb.PointsChange(member=member_message(result[0], now), points=result[1]),
        )

    @unary(*WRITE)
    async def RegisterMember(self, request: pb.RegisterMemberRequest, principal) -> pb.Member:
        call = self._member_call(request, "RegisterMember", principal)
        brand = brand_scope(principal, request.brand)
        new = request.member
        if not new.openid:
            raise InvalidArgument("member.openid is required", reason="FIELD_REQUIRED", field="member.openid")
        data = await self.members.register(
            brand,
            new.openid,
            unionid=new.unionid or None,
            phone=new.phone or None,
            referrer_id=names.parse(new.referrer, MEMBERS, field="member.referrer", required=False),
            call=call,
        )
        return data

    @unary(*READ)
    async def GetMember(self, request: pb.GetMemberRequest, principal) -> pb.Member:
        member = await self.members.get(names.parse(request.name, MEMBERS, field="name"), brand=principal.brand)
        return member_message(member, self.members.clock.now())

    @unary(*WRITE)
    async def UpdateMemberProfile(self, request: pb.UpdateMemberProfileRequest, principal) -> pb.Member:
        call = self._member_call(request, "UpdateMemberProfile", principal)
        birthday = None
        if request.HasField("birthday"):
            try:
                birthday = date.fromisoformat(request.birthday)
            except ValueError:
                raise InvalidArgument("birthday must be YYYY-MM-DD", reason="INVALID_DATE", field="birthday") from None
        text = {f: getattr(request, f) if request.HasField(f) else None for f in ("phone", "unionid", "nickname")}
        data = await self.members.update_profile(
            names.parse(request.name, MEMBERS, field="name"),
            birthday=birthday,
            call=call,
            brand=principal.brand,
            **text,
        )
        return data

    @unary(Role.OPERATOR)
    async def AssignTierFloor(self, request: pb.AssignTierFloorRequest, principal) -> pb.Member:
        call = self._member_call(request, "AssignTierFloor", principal)
        if request.tier not in pb.Tier.values():
            raise InvalidArgument("unknown tier", reason="INVALID_ENUM", field="tier")
        tier = None if request.tier == pb.TIER_UNSPECIFIED else Tier[pb.Tier.Name(request.tier).removeprefix("TIER_")]
        data = await self.members.assign_tier_floor(
            names.parse(request.name, MEMBERS, field="name"),
            tier,
            request.reason,
            request.operator,
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(Role.OPERATOR)
    async def MergeMembers(self, request: pb.MergeMembersRequest, principal) -> pb.Member:
        call = self._member_call(request, "MergeMembers", principal)
        data = await self.members.merge(
            names.parse(request.name, MEMBERS, field="name"),
            names.parse(request.absorbed, MEMBERS, field="absorbed"),
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(*WRITE)
    async def BindGuide(self, request: pb.BindGuideRequest, principal) -> pb.Member:
        call = self._member_call(request, "BindGuide", principal)
        data = await self.members.bind_guide(
            names.parse(request.name, MEMBERS, field="name"),
            names.parse(request.guide, GUIDES, field="guide"),
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(*WRITE)
    async def RecordReferral(self, request: pb.RecordReferralRequest, principal) -> pb.Member:
        call = self._member_call(request, "RecordReferral", principal)
        data = await self.members.record_referral(
            names.parse(request.referrer, MEMBERS, field="referrer"),
            names.parse(request.name, MEMBERS, field="name"),
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(*WRITE)
    async def EarnPoints(self, request: pb.EarnPointsRequest, principal) -> pb.PointsChange:
        call = self._points_call(request, "EarnPoints", principal)
        data = await self.members.earn_points(
            names.parse(request.name, MEMBERS, field="name"),
            request.rule,
            request.points,
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(*WRITE)
    async def RedeemPoints(self, request: pb.RedeemPointsRequest, principal) -> pb.PointsChange:
        call = self._points_call(request, "RedeemPoints", principal)
        data = await self.members.redeem_points(
            names.parse(request.name, MEMBERS, field="name"),
            request.points,
            request.reference,
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(Role.OPERATOR)
    async def AdjustPoints(self, request: pb.AdjustPointsRequest, principal) -> pb.PointsChange:
        call = self._points_call(request, "AdjustPoints", principal)
        data = await self.members.adjust_points(
            names.parse(request.name, MEMBERS, field="name"),
            request.points,
            request.reason,
            request.operator,
            request.corrects or None,
            call=call,
            brand=principal.brand,
        )
        return data

    @unary(*READ)
    async def ListPointsHistory(self, request: pb.ListPointsHistoryRequest, principal):
        size = pages.page_size(request.page_size, default=DEFAULT_PAGE, maximum=MAX_PAGE)
        scope = (principal.brand, request.parent)
        offset = pages.decode(request.page_token, "ListPointsHistory", scope)
        member = await self.members.get(names.parse(request.parent, MEMBERS, field="parent"), brand=principal.brand)
        history = member.history()
        page = history[offset : offset + size]
        return pb.ListPointsHistoryResponse(
            entries=[
                pb.PointsEntry(
                    kind=f"POINTS_ENTRY_KIND_{m.kind}",
                    points=m.points,
                    reference=m.reference,
                    entry_time=timestamp(m.at),
                    shortfall=m.shortfall,
                )
                for m in page
            ],
            next_page_token=(
                pages.encode("ListPointsHistory", scope, offset + size) if offset + size < len(history) else ""
            ),
        )

    @unary(*READ)
    async def ListExpiringPoints(self, request: pb.ListExpiringPointsRequest, principal):
        size = pages.page_size(request.page_size, default=DEFAULT_PAGE, maximum=MAX_PAGE)
        scope = (principal.brand, request.parent, request.within_days)
        offset = pages.decode(request.page_token, "ListExpiringPoints", scope)
        lots = await self.members.expiring(
            names.parse(request.parent, MEMBERS, field="parent"), request.within_days, brand=principal.brand
        )
        lots.sort(key=lambda pair: (pair[0].expires_at, pair[0].lot_id))  # soonest first, a stable order to page
        return pb.ListExpiringPointsResponse(
            lots=[
                pb.ExpiringLot(lot=lot.lot_id, points=r, expire_time=timestamp(lot.expires_at))
                for lot, r in lots[offset : offset + size]
                if lot.expires_at is not None
            ],  # expiring: all have one
            total_points=sum(r for _, r in lots),
            next_page_token=pages.encode("ListExpiringPoints", scope, offset + size)
            if offset + size < len(lots)
            else "",
        )

    @unary(*WRITE)
    async def EvaluateTier(self, request: pb.EvaluateTierRequest, principal) -> pb.Member:
        call = self._member_call(request, "EvaluateTier", principal)
        data = await self.members.evaluate_tier(
            names.parse(request.name, MEMBERS, field="name"), call=call, brand=principal.brand
        )
        return data
