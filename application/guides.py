"""Guide use cases: hiring, moving, leaving, and WeCom-style customer handover (离职/在职继承).

A handover is offered to the receiving guide per customer; each customer stays
with the giver until the receiver accepts (or the waiting period passes, as
WeCom auto-accepts), is refused, or the receiver is at its customer limit.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from application.auth import owned
from application.commands import Answer, Call, Service
from application.unit_of_work import UnitOfWork
from domain.cloud_store import CloudStore
from domain.errors import InvalidArgument, RuleViolation
from domain.guide import Guide, HandoverKind
from domain.identity import IdentityIndex, IdentityKind
from domain.member import Member

MAX_HANDOVER = 1000


class GuideService(Service):
    async def hire(
        self, brand: str, store_id: UUID, wecom_userid: str, name: str, *, call: Call | None = None
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Guide:
            at = self.clock.now()
            owned(await self.repository.get(store_id, CloudStore), brand)  # the brand's store must exist
            index_id = self.identities.index_id(brand, IdentityKind.WECOM, wecom_userid)
            index = await self.repository.find(index_id, IdentityIndex)
            if index is not None and index.owner_id is not None:  # released only by an erasure
                return await self.repository.get(index.owner_id, Guide)  # idempotent on the WeCom id
            guide = Guide.hire(brand, store_id, wecom_userid, name, at)
            await uow.add(guide)
            if index is None:
                await uow.add(
                    IdentityIndex.claim(brand, IdentityKind.WECOM, wecom_userid, guide.id, at, index_id=index_id)
                )
            else:  # an erased guide's WeCom id, hired again: a new guide, who knows nothing of the old one
                (await uow.get(index_id, IdentityIndex)).reclaim(guide.id, at)
            return guide

        return await self.execute(handler, call)

    async def erase(
        self, guide_id: UUID, by: str, reason: str, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        """Records who erased the guide's personal data (WeCom id, name), when and why, frees the WeCom id, then
        destroys the guide's data key; customers, credits and commission stay. Only a guide who has left.
        Idempotent as MemberService.erase: again records nothing and destroys the key again."""

        async def handler(uow: UnitOfWork) -> Guide:
            at = self.clock.now()
            guide = owned(await uow.get(guide_id, Guide), brand)
            wecom = guide.wecom_userid
            if guide.erase_personal_data(by, reason, at) and wecom is not None:
                index = await uow.get(self.identities.index_id(guide.brand, IdentityKind.WECOM, wecom), IdentityIndex)
                if index.owner_id == guide.id:
                    index.release(at)
            return guide

        result = await self.execute(handler, call)
        if self.keys is not None:
            await self.keys.destroy(guide_id)
        self.repository.forget_idle()  # cached aggregates decoded with the key: read again, as erased
        return result

    async def get(self, guide_id: UUID, *, brand: str | None = None) -> Guide:
        return owned(await self.repository.get(guide_id, Guide), brand)

    async def move(
        self, guide_id: UUID, store_id: UUID, *, call: Call | None = None, brand: str | None = None
    ) -> Answer:
        async def handler(uow: UnitOfWork) -> Guide:
            guide = owned(await uow.get(guide_id, Guide), brand)
            owned(await self.repository.get(store_id, CloudStore), guide.brand)  # only within the guide's brand
            guide.move_to_store(store_id, self.clock.now())
            return guide

        return await self.execute(handler, call)

    async def release(self, guide_id: UUID, *, call: Call | None = None, brand: str | None = None) -> Answer:
        async def handler(uow: UnitOfWork) -> Guide:
            guide = owned(await uow.get(guide_id, Guide), brand)
            guide.leave(self.clock.now())
            return guide

        return await self.execute(handler, call)

    async def inherit(
        self,
        from_guide_id: UUID,
        to_guide_id: UUID,
        members: tuple[UUID, ...],
        *,
        call: Call | None = None,
        brand: str | None = None,
    ) -> Answer:
        """Offer the giver's customers (all when ``members`` is empty) to the receiver."""

        async def handler(uow: UnitOfWork) -> tuple[int, list[tuple[UUID, str]]]:
            at = self.clock.now()
            giver = owned(await uow.get(from_guide_id, Guide), brand)
            receiver = owned(await uow.get(to_guide_id, Guide), giver.brand)  # customers stay in their brand
            programme = await self.programmes.current(giver.brand)
            wanted = members or tuple(sorted(giver.customers, key=str))
            if not wanted:
                raise RuleViolation("the guide has no customers to hand over", reason="NO_CUSTOMERS")
            if len(wanted) > MAX_HANDOVER:
                raise InvalidArgument(f"at most {MAX_HANDOVER} customers per call", reason="TOO_MANY")
            refusals: list[tuple[UUID, str]] = []
            offered = []
            for member_id in wanted:
                member = owned(await self.repository.get(member_id, Member), giver.brand)
                if not member.can_be_handed_over(programme, at):
                    refusals.append((member_id, "HANDOVER_LIMIT_REACHED"))
                else:
                    offered.append(member_id)
            kind = HandoverKind.RESIGNATION if not giver.employed else HandoverKind.REASSIGNMENT
            if offered:
                giver.start_handover(tuple(offered), receiver.id, kind, at)
                for member_id in receiver.offer_handover(giver.id, tuple(offered), kind, programme, at):
                    giver.conclude_handover(member_id, False, "RECEIVER_AT_CUSTOMER_LIMIT", at)
                    refusals.append((member_id, "RECEIVER_AT_CUSTOMER_LIMIT"))
            return len(offered) - sum(1 for _, r in refusals if r == "RECEIVER_AT_CUSTOMER_LIMIT"), refusals

        return await self.execute(handler, call)

    async def conclude(
        self,
        to_guide_id: UUID,
        member_id: UUID,
        accept: bool,
        reason: str,
        *,
        call: Call | None = None,
        brand: str | None = None,
    ) -> Answer:
        """The receiving guide accepts or refuses one customer."""

        async def handler(uow: UnitOfWork) -> Guide:
            at = self.clock.now()
            receiver = owned(await uow.get(to_guide_id, Guide), brand)
            transfer = receiver.incoming.get(member_id)
            if transfer is None:
                raise RuleViolation("no handover offered for this customer", reason="HANDOVER_NOT_FOUND")
            if accept:
                receiver.accept_handover(member_id, at)
                await self._move_customer(uow, transfer.from_guide_id, receiver, member_id, at)
            else:
                receiver.refuse_handover(member_id, reason or "REFUSED", at)
                giver = await uow.get(transfer.from_guide_id, Guide)
                giver.conclude_handover(member_id, False, reason or "REFUSED", at)
            return receiver

        return await self.execute(handler, call)

    async def complete_due(self, to_guide_id: UUID, *, call: Call | None = None, brand: str | None = None) -> Answer:
        """Auto-accept every offer past the waiting period (WeCom's 24 hours by default)."""

        async def handler(uow: UnitOfWork) -> Guide:
            at = self.clock.now()
            receiver = owned(await uow.get(to_guide_id, Guide), brand)
            givers = {m: t.from_guide_id for m, t in receiver.incoming.items()}
            for member_id in receiver.complete_due_handovers(at):
                await self._move_customer(uow, givers[member_id], receiver, member_id, at)
            return receiver

        return await self.execute(handler, call)

    async def _move_customer(
        self, uow: UnitOfWork, giver_id: UUID, receiver: Guide, member_id: UUID, at: datetime
    ) -> None:
        giver = await uow.get(giver_id, Guide)
        giver.conclude_handover(member_id, True, "ACCEPTED", at)
        member = await uow.get(member_id, Member)
        member.hand_over(giver.id, receiver.id, receiver.store_id, await self.programmes.current(member.brand), at)
