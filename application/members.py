"""Member use cases: registration with identity resolution, points, tiers, referral, binding."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID, uuid5

from application.auth import owned
from application.commands import Answer, Call, Service
from application.repository import RecordedEvent
from application.unit_of_work import UnitOfWork
from domain.errors import AlreadyExists, InvalidArgument, RuleViolation
from domain.guide import Guide
from domain.identity import IdentityIndex, IdentityKind, normalise, resolve
from domain.member import Member, merge
from domain.points import PointsLot
from domain.tiers import Tier

MAX_UPLINE = 32


def member_id_for(openid_index_id: UUID, generation: int = 0) -> UUID:
    """Deterministic: a retried first registration cannot create a second member. ``generation``: the
    openid index's version when it was released (an erased member's login registering anew)."""
    return uuid5(openid_index_id, "member" if generation == 0 else f"member:{generation}")


class MemberService(Service):
    async def register(
        self,
        brand: str,
        openid: str,
        *,
        unionid: str | None = None,
        phone: str | None = None,
        referrer_id: UUID | None = None,
        call: Call | None = None,
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Member:
            at = self.clock.now()
            keys = [(IdentityKind.OPENID, normalise(IdentityKind.OPENID, openid))]
            if unionid:
                keys.append((IdentityKind.UNIONID, normalise(IdentityKind.UNIONID, unionid)))
            if phone:
                keys.append((IdentityKind.PHONE, normalise(IdentityKind.PHONE, phone)))
            owners, indexes = [], {}
            for kind, value in keys:
                index_id = self.identities.index_id(brand, kind, value)
                index = await self.repository.find(index_id, IdentityIndex)
                indexes[kind] = (index_id, index)
                owners.append((kind, index.owner_id if index else None))
            existing = resolve(owners)
            if existing is not None:
                return await self.repository.get(existing, Member)
            openid_index_id, openid_index = indexes[IdentityKind.OPENID]
            member = Member.register(
                brand,
                openid,
                at,
                unionid=unionid or None,
                phone=phone or None,
                referrer_id=referrer_id,
                member_id=member_id_for(openid_index_id, openid_index.version if openid_index else 0),
            )
            await uow.add(member)
            for kind, value in keys:
                index_id, index = indexes[kind]
                if index is None:
                    await uow.add(IdentityIndex.claim(brand, kind, value, member.id, at, index_id=index_id))
                else:  # released (a changed phone, an erased member): this member's now
                    (await uow.get(index_id, IdentityIndex)).reclaim(member.id, at)
            if referrer_id is not None:
                referrer = owned(await uow.get(referrer_id, Member), brand)  # another brand's: not found
                referrer.record_referral(member.id, at, upline=await self._upline(referrer))
            return member

        return await self.execute(handler, call)

    async def _upline(self, member: Member) -> tuple[UUID, ...]:
        chain: list[UUID] = []
        current = member.referred_by
        while current is not None and len(chain) < MAX_UPLINE and current not in chain:
            chain.append(current)
            current = (await self.repository.get(current, Member)).referred_by
        return tuple(chain)

    async def update_profile(
        self,
        member_id: UUID,
        *,
        phone: str | None = None,
        unionid: str | None = None,
        nickname: str | None = None,
        birthday: date | None = None,
        call: Call | None = None,
        brand: str | None = None,
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Member:
            at = self.clock.now()
            member = owned(await uow.get(member_id, Member), brand)
            for kind, new, old in (
                (IdentityKind.PHONE, phone, member.phone),
                (IdentityKind.UNIONID, unionid, member.unionid),
            ):
                if new is not None and (value := normalise(kind, new)) != old:
                    await self._move_identity(uow, member, kind, value, old, at)
            member.update_profile(at, phone=phone, unionid=unionid, nickname=nickname, birthday=birthday)
            return member

        return await self.execute(handler, call)

    async def _move_identity(
        self, uow: UnitOfWork, member: Member, kind: IdentityKind, value: str, old: str | None, at: datetime
    ) -> None:
        """Claim the new identity for the member and free the old one: identities stay unique."""
        index_id = self.identities.index_id(member.brand, kind, value)
        if not await uow.exists(index_id):
            await uow.add(IdentityIndex.claim(member.brand, kind, value, member.id, at, index_id=index_id))
        else:
            index = await uow.get(index_id, IdentityIndex)
            if index.owner_id is not None:
                raise AlreadyExists(
                    f"that {kind.value} belongs to another member", reason="IDENTITY_TAKEN", kind=kind.value
                )
            index.reclaim(member.id, at)
        if old is not None:
            previous = await uow.get(self.identities.index_id(member.brand, kind, old), IdentityIndex)
            if previous.owner_id == member.id:
                previous.release(at)

    async def assign_tier_floor(
        self,
        member_id: UUID,
        tier: Tier | None,
        reason: str,
        operator: str,
        *,
        call: Call | None = None,
        brand: str | None = None,
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Member:
            at = self.clock.now()
            member = owned(await uow.get(member_id, Member), brand)
            member.assign_tier_floor(tier, operator, reason, at)
            member.evaluate_tier(await self.programmes.current(member.brand), at)
            return member

        return await self.execute(handler, call)

    async def get(self, member_id: UUID, *, brand: str | None = None) -> Member:
        return owned(await self.repository.get(member_id, Member), brand)

    async def merge(
        self, survivor_id: UUID, absorbed_id: UUID, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Member:
            survivor = owned(await uow.get(survivor_id, Member), brand)
            absorbed = owned(await uow.get(absorbed_id, Member), brand)
            at = self.clock.now()
            merge(survivor, absorbed, at)
            for key in absorbed.identity_keys():  # the absorbed logins now find the survivor
                index = await uow.get(self.identities.index_id(absorbed.brand, key.kind, key.value), IdentityIndex)
                if index.owner_id == absorbed.id:
                    index.reassign(survivor.id, at)
            return survivor

        return await self.execute(handler, call)

    async def bind_guide(
        self, member_id: UUID, guide_id: UUID, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Member:
            at = self.clock.now()
            member = owned(await uow.get(member_id, Member), brand)
            guide = owned(await uow.get(guide_id, Guide), brand)
            programme = await self.programmes.current(member.brand)
            previous = member.guide_id
            member.bind_guide(guide.id, guide.store_id, programme, at)
            if previous is not None and previous != guide.id:
                (await uow.get(previous, Guide)).release_customer(member.id, "REBOUND", at)
            guide.add_customer(member.id, programme, at)  # binding also sets the home store
            return member

        return await self.execute(handler, call)

    async def record_referral(
        self, referrer_id: UUID, invitee_id: UUID, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Member:
            at = self.clock.now()
            referrer = owned(await uow.get(referrer_id, Member), brand)
            invitee = owned(await uow.get(invitee_id, Member), brand)
            if invitee.brand != referrer.brand:
                raise RuleViolation("members of different brands", reason="BRAND_MISMATCH")
            referrer.record_referral(invitee_id, at, upline=await self._upline(referrer))
            invitee.accept_referrer(referrer_id, at)
            return referrer

        return await self.execute(handler, call)

    async def earn_points(
        self, member_id: UUID, rule: str, points: int, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> tuple[Member, int]:
            member = owned(await uow.get(member_id, Member), brand)
            lot = member.earn_points(rule, points, await self.programmes.current(member.brand), self.clock.now())
            return member, lot.points

        return await self.execute(handler, call)

    async def redeem_points(
        self, member_id: UUID, points: int, reference: str, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> tuple[Member, int]:
            member = owned(await uow.get(member_id, Member), brand)
            at = self.clock.now()
            member.expire_due(at)
            member.redeem(points, reference, at)
            return member, -points

        return await self.execute(handler, call)

    async def adjust_points(
        self,
        member_id: UUID,
        points: int,
        reason: str,
        operator: str,
        corrects: str | None,
        *,
        call: Call | None = None,
        brand: str | None = None,
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> tuple[Member, int]:
            member = owned(await uow.get(member_id, Member), brand)
            member.adjust(
                points,
                reason,
                operator,
                await self.programmes.current(member.brand),
                self.clock.now(),
                corrects=corrects,
            )
            return member, points

        return await self.execute(handler, call)

    async def expire_points(self, member_id: UUID, *, call: Call | None = None) -> Answer:
        """Record the expiry of every lot past its date (balances already ignore them)."""

        async def handler(uow: UnitOfWork) -> tuple[Member, int]:
            member = await uow.get(member_id, Member)
            return member, -member.expire_due(self.clock.now())

        return await self.execute(handler, call)

    async def evaluate_tier(self, member_id: UUID, *, call: Call | None = None, brand: str | None = None) -> Answer:
        async def handler(uow: UnitOfWork) -> Member:
            member = owned(await uow.get(member_id, Member), brand)
            member.evaluate_tier(await self.programmes.current(member.brand), self.clock.now())
            return member

        return await self.execute(handler, call)

    async def expiring(
        self, member_id: UUID, within_days: int, *, brand: str | None = None
    ) -> list[tuple[PointsLot, int]]:
        if not 1 <= within_days <= 366:
            raise InvalidArgument("within_days must be 1..366", reason="OUT_OF_RANGE", field="within_days")
        member = await self.get(member_id, brand=brand)
        now = self.clock.now()
        end = now + timedelta(days=within_days)
        return [
            (lot, remaining)
            for lot, remaining in member.lots()
            if remaining > 0 and lot.expires_at is not None and now <= lot.expires_at < end
        ]

    # ------------------------------------------------------------------ personal data (PIPL)
    async def erase(
        self, member_id: UUID, by: str, reason: str, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        """Records who erased the member's personal data, when and why, frees its logins, then destroys its
        data key. Idempotent: erasing again records nothing and destroys the key again (a crash between the
        commit and the destruction is healed by the retry)."""

        async def handler(uow: UnitOfWork) -> Member:
            at = self.clock.now()
            member = owned(await uow.get(member_id, Member), brand)
            keys = member.identity_keys()
            if member.erase_personal_data(by, reason, at):
                for key in keys:  # the login may register anew, as a new member
                    index = await uow.get(self.identities.index_id(member.brand, key.kind, key.value), IdentityIndex)
                    if index.owner_id == member.id:
                        index.release(at)
            return member

        result = await self.execute(handler, call)
        if self.keys is not None:
            await self.keys.destroy(member_id)
        self.repository.forget_idle()  # cached aggregates decoded with the key: read again, as erased
        return result

    async def recorded(self, member_id: UUID, *, brand: str | None = None) -> tuple[Member, list[RecordedEvent]]:
        """The member and every event recorded about it, decoded, oldest first (the export, PIPL Art. 45):
        bindings, referrals and consents as they happened, not only as they stand."""
        member = await self.get(member_id, brand=brand)
        return member, await self.repository.events(member_id)

    async def record_consent(
        self, member_id: UUID, granted: bool, channel: str, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Member:
            member = owned(await uow.get(member_id, Member), brand)
            member.record_marketing_consent(granted, channel, self.clock.now())
            return member

        return await self.execute(handler, call)
