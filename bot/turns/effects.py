"""Carrying out a decision's effects in the turn's store transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from bot.core.conversation import Conversation
from bot.core.effects import (
    ALERT_KINDS,
    LEAD_NOTICE,
    Address,
    CancelFollowups,
    DropUndelivered,
    Effect,
    Forget,
    ForgetReplies,
    MoveFollowup,
    RecordEvent,
    SaveConsent,
    SaveLead,
    SaveProgress,
    ScheduleFollowup,
    StaffNotice,
    WithdrawConsents,
    staff_address,
)
from bot.store.base import ConversationStore

log = logging.getLogger(__name__)

# Who a forgotten person was in the click counts (a keyed pseudonym of channel and user).
Pseudonym = Callable[[str, str], str]
# The notice that asks staff places to blank earlier notices about a forgotten person.
ForgottenNotice = Callable[[list[tuple[str, str]]], StaffNotice]


async def apply_effects(
    store: ConversationStore, conv: Conversation, effects: list[Effect], now: float, *,
    pseudonym: Pseudonym, forgotten_notice: ForgottenNotice,
) -> list[StaffNotice]:
    """Save each effect with the turn; the staff notices, to be queued for staff places."""
    channel, user_id = conv.channel, conv.user_id
    notices = []
    for effect in effects:
        if isinstance(effect, StaffNotice):
            notices.append(effect)
        elif isinstance(effect, RecordEvent):
            await store.record(effect.kind, channel, user_id, effect.flow, effect.detail,
                               at=now, version=effect.version)
        elif isinstance(effect, SaveLead):
            await store.save_lead(effect.lead)
        elif isinstance(effect, SaveConsent):
            await store.save_consent(effect.consent)
        elif isinstance(effect, CancelFollowups):
            await store.cancel_followups(channel, user_id, effect.reason)
        elif isinstance(effect, SaveProgress):
            await store.save_followup_result(effect.followup_id, effect.progress)
        elif isinstance(effect, ScheduleFollowup):
            await store.schedule_followup(effect.followup)
        elif isinstance(effect, MoveFollowup):
            await store.update_followup(effect.followup_id, effect.status, effect.due_at,
                                        effect.attempt, effect.reason)
        elif isinstance(effect, WithdrawConsents):
            await _withdraw(store, conv, effect, now)
        elif isinstance(effect, ForgetReplies):
            await store.forget_replies(channel, user_id)
        elif isinstance(effect, DropUndelivered):
            await store.drop_undelivered(channel, user_id)
        elif isinstance(effect, Forget):
            earlier = await store.relay_messages(channel, user_id)  # before the delete takes them
            await store.delete(channel, user_id)
            await store.forget_clicks(pseudonym(channel, user_id))
            if earlier:
                notices.append(forgotten_notice(earlier))
    return notices


async def _withdraw(store: ConversationStore, conv: Conversation, effect: WithdrawConsents,
                    now: float) -> None:
    if effect.kind:
        await store.withdraw_consent(conv.channel, conv.user_id, effect.kind, now)
    else:
        await store.withdraw_consents(conv.channel, conv.user_id, now)
    if effect.delete_leads:
        await store.delete_leads(conv.channel, conv.user_id)
        # Every other copy of the name and contact details goes too: the bot's replies kept for
        # retried updates and those still waiting to be sent ("Thank you, <name>!"), and a
        # lead notice to staff not yet posted (nor to be: they are not to contact them).
        await store.forget_replies(conv.channel, conv.user_id)
        await store.drop_undelivered(conv.channel, conv.user_id)
        await store.drop_staff_notices(conv.channel, conv.user_id, LEAD_NOTICE)


async def queue_for_staff(store: ConversationStore, notices: list[StaffNotice],
                          places: frozenset[str], now: float,
                          alert_places: frozenset[str] = frozenset()) -> list[Address]:
    """Staff notices saved with the turn, one outbox row per staff place configured (and per
    alert place, for the kinds alerts are about); the addresses to flush after the commit."""
    if notices and not places | alert_places:
        log.info("no staff place configured; %d notice(s) were not kept", len(notices))
    queued = []
    for notice in notices:
        stamped = replace(notice, at=notice.at or now)
        alerted = alert_places if notice.kind in ALERT_KINDS else frozenset()
        for place in sorted(places | alerted):
            address = staff_address(place, stamped)
            await store.enqueue(address, 0, stamped, now)
            queued.append(address)
    return list(dict.fromkeys(queued))
