"""The one turn runner: every way a person's conversation changes goes through `_transact`.

Presses, typed answers, commands, staff replies (`handle`), check-ins (`fire_checkin`) and
booking webhooks (`booked`) each take the person's lock, open the store's turn (one
transaction), load what the dialog needs, let the dialog decide, save the conversation and
carry out the decision's effects, queue every outgoing message (for the person and for every
staff place), remember the update id, commit, and only then flush the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from bot.core.clicks import pseudonym
from bot.core.conversation import Conversation
from bot.core.decision import NEEDS_FOLLOWUPS, NEEDS_STORED, Decision, Known
from bot.core.effects import Address, Outgoing, StaffNotice
from bot.core.events import Event, EventKind, Reply
from bot.core.records import PENDING
from bot.core.wire import reply_from_json, reply_to_json
from bot.engine.dialog import Dialog
from bot.settings import Settings
from bot.store.base import ConversationStore
from bot.turns.checkins import CheckinTimer
from bot.turns.effects import apply_effects, queue_for_staff
from bot.turns.locks import PersonLocks
from bot.turns.metrics import Metrics, StoreSnapshot
from bot.turns.outbox import Claim, Deliveries
from bot.turns.wiring import NO_WIRING, Wiring

IDLE = "idle"
FORGOTTEN = "forgotten"
BOOKING_UNKNOWN, BOOKING_AGAIN, BOOKING_APPLIED = "unknown", "again", "applied"
T = TypeVar("T")


class TurnRunner:
    """Runs every turn of every conversation (see the module docstring)."""

    def __init__(self, dialog: Dialog, store: ConversationStore, settings: Settings,
                 wiring: Wiring = NO_WIRING, clock: Callable[[], float] = time.time) -> None:
        self.dialog = dialog
        self.store = store
        self.settings = settings
        self.wiring = wiring
        self.clock = clock
        # What channels read of the dialog: its commands, flows and words.
        self.flows, self.commands = dialog.flows, dialog.commands
        self.compose, self.renderer = dialog.compose, dialog.renderer
        self.metrics = Metrics()  # this runner's own series (`/metrics`)
        # Both read `self.clock` when they run, so a clock set later (tests) is theirs too.
        self.deliveries = Deliveries(store, lambda: self.clock(), lease=settings.outbox_lease,
                                     metrics=self.metrics)
        self.outboxes = self.deliveries.outboxes  # channel name -> how to reach a person there
        self.followups = CheckinTimer(self._due_checkins, self.fire_checkin,
                                      lambda: self.clock(), settings.followups.poll_seconds)
        self._locks = PersonLocks()

    # -- a person's own update ------------------------------------------------------------------

    async def handle(self, event: Event) -> Reply:
        """One event from a person (or a staff reply to them): their reply. An update applied
        before gets the reply it got then."""
        started = time.perf_counter()
        person = Address(event.channel, event.user_id)

        async def turn(store: ConversationStore) -> tuple[Reply, list[Address], Claim | None]:
            start = await store.load_turn(event.channel, event.user_id, event.update_id)
            if start.earlier_reply is not None:
                return reply_from_json(start.earlier_reply), [], None
            conv = start.conversation or Conversation(event.channel, event.user_id)
            known, ref_before = Known(self.clock(), start.undelivered), conv.booking_ref
            decision = await self._decide(store, conv, known,
                                          self.dialog.decide(conv, event, known))
            staff = await self._keep(store, conv, decision, known.now, ref_before)
            reply, claim = self._reply(conv, decision), None
            if self._sends_by_outbox(event):
                reply, claim = await self._enqueue(store, person, reply,
                                                   none_waiting=not start.undelivered)
            # A forget leaves nothing behind, not even the update that asked for it (its
            # platform id); a retried "yes" finds nobody, and is answered as a stranger.
            if event.update_id and not decision.forgotten:
                await store.remember_update(event.channel, event.update_id, event.user_id,
                                            reply_to_json(reply), known.now)
            return reply, staff, claim

        reply, staff, claim = await self._transact(person, turn)
        if claim is not None:  # committed: the flush after the turn sends them as they are
            self.deliveries.send_at_flush(claim)
        if staff:
            await self._flush_all(staff)
        self.metrics.turn_taken(event.channel, time.perf_counter() - started)
        return reply

    async def from_staff(self, address: Address, text: str) -> Reply:
        """A staff member's reply to a person: handled as their event, delivered through the
        person's own channel (whichever it is, in whichever process runs it)."""
        reply = await self.handle(Event(address.channel, address.user_id, EventKind.STAFF,
                                        text=text))
        await self._flush_all([address])
        return reply

    # -- events that are not the person's -------------------------------------------------------

    async def fire_checkin(self, followup_id: int) -> bool:
        """Send a due follow-up, once: under the person's lock the row is read again, and the
        check-in's first question is queued in the same transaction that moves the row on.
        True when it was sent."""
        found = await self.store.followup(followup_id)
        if found is None or found.status != PENDING:
            return False
        person = Address(found.channel, found.user_id)

        async def turn(store: ConversationStore) -> list[Address]:
            followup = await store.followup(followup_id)
            now = self.clock()
            if followup is None or followup.status != PENDING or followup.due_at > now:
                return []
            conv = await store.load(*_key(person)) or Conversation(*_key(person))
            decision = self.dialog.checkin(conv, followup, now)
            if not decision.messages:  # put off or given up: only the row moves on
                await self._effects(store, conv, decision, now)
                return []
            staff = await self._keep(store, conv, decision, now, ref_before="")
            await store.enqueue_all(person, conv.turn, decision.messages, now)
            return [person, *staff]

        flush = await self._transact(person, turn)
        await self._flush_all(flush)
        return bool(flush)

    async def booked(self, ref: str, kind: str, provider: str, event_key: str) -> str:
        """A call booked, cancelled or moved against the screening `ref` names, applied once
        per `event_key`: BOOKING_APPLIED, BOOKING_AGAIN (applied before: nothing done) or
        BOOKING_UNKNOWN (no such reference)."""
        found = await self.store.booking_ref(ref) if ref else None
        if found is None:
            return BOOKING_UNKNOWN
        channel, user_id, flow = found
        person = Address(channel, user_id)

        async def turn(store: ConversationStore) -> list[Address] | None:
            now = self.clock()
            if not await store.remember_webhook(event_key, now):
                return None
            conv = await store.load(channel, user_id) or Conversation(channel, user_id)
            decision = self.dialog.booked(conv, kind, flow, provider)
            staff = await self._effects(store, conv, decision, now)
            if channel not in self.wiring.delivered:
                return staff
            await store.enqueue_all(person, conv.turn, decision.messages, now)
            return [person, *staff]

        flush = await self._transact(person, turn)
        if flush is None:
            return BOOKING_AGAIN
        await self._flush_all(flush)
        return BOOKING_APPLIED

    # -- what a person sees without taking a turn ---------------------------------------------

    def preview(self, event: Event) -> Reply:
        """What someone new would be answered, decided and kept nowhere: a web page's opening
        `/start` leaves no row until the person answers (anyone may open sessions for free)."""
        conv = Conversation(event.channel, event.user_id)
        return self._reply(conv, self.dialog.decide(conv, event, Known(self.clock())))

    async def current(self, channel: str, user_id: str) -> Reply | None:
        """The person's current question as it was last shown, without taking a turn (a page
        reloaded); None for someone the bot does not know. `extras["pending"]` names a
        question of the dialog's own still open (delete everything?)."""
        conv = await self.store.load(channel, user_id)
        if conv is None:
            return None
        state = self.dialog.stepper.state(conv)
        shown = (self.dialog.stepper.state_message(conv),) if state is not None else ()
        return Reply(shown, conv.turn, conv.state or IDLE, conv.flow, applied=False,
                     extras={"pending": conv.pending} if self.dialog.asks_again(conv) else {},
                     expects_text=self.dialog.expects_text(conv), relay=conv.relay)

    async def collect(self, person: Address, limit: int) -> list[Outgoing]:
        """A pull channel's person came back: take their waiting messages (oldest first, at
        most `limit`); they are shown now."""
        return await self.deliveries.collect(person, limit)

    # -- staff places ---------------------------------------------------------------------------

    async def posted(self, place: str, message_ids: list[str], notice: StaffNotice) -> None:
        """A staff place posted a notice: whom each of its messages is about, kept so a staff
        reply reaches the person and a forget finds the notices again."""
        for message_id in message_ids:
            await self.store.save_relay(place, message_id, notice.channel, notice.user_id)

    async def about(self, place: str, message_id: str) -> Address | None:
        """Whom a notice posted in a staff place is about; None for any other message."""
        target = await self.store.relay_target(place, message_id)
        return Address(*target) if target is not None else None

    # -- the outbox -------------------------------------------------------------------------

    async def flush(self, address: Address) -> bool:
        """Send the person's messages waiting in the outbox now; True when none is left for
        this process to send now."""
        return await self.deliveries.flush(address)

    async def delivered(self, address: Address, reply: Reply) -> None:
        """A channel showed the reply another way (edited the pressed message in place): its
        queued messages are not to be sent. Whatever was queued behind them meanwhile goes now
        (another replica may have queued the person's next reply)."""
        queued_behind = False
        for outgoing_id in reply.queued:
            queued_behind = await self.store.sent(outgoing_id)
        if queued_behind:
            await self.flush(address)

    async def send_instead(self, address: Address, reply: Reply) -> None:
        """The channel could not show the reply another way: send its held messages now."""
        for outgoing_id in reply.queued:
            await self.store.release(outgoing_id)
        await self.flush(address)

    # -- upkeep -----------------------------------------------------------------------------

    def notice(self, template: str, channel: str = "", **extra: Any) -> str:
        """Light-markup text of a template outside any conversation (channel notices)."""
        return self.dialog.notice(template, channel, **extra)

    def followup_channels(self) -> list[str]:
        """Channels a check-in can reach: some process sends there unasked."""
        return sorted(self.wiring.reachable_later)

    async def purge_expired(self) -> dict[str, int]:
        """Delete conversations, events and leads older than the retention window."""
        now = self.clock()
        cutoff = now - self.settings.retention_days * 86400
        unanswered = now - self.settings.unanswered_hours * 3600
        forms = tuple(flow_id for flow_id, flow in self.flows.items() if flow.lead)
        return await self.store.purge(cutoff, max(cutoff, unanswered), forms)

    async def store_snapshot(self) -> StoreSnapshot:
        """The outbox's backlog and the check-ins due, by channel, as the store has them now."""
        now = self.clock()
        places = {name for name in self.outboxes} | set(self.wiring.delivered)
        return StoreSnapshot(now, await self.store.waiting_by_channel(),
                             await self.store.due_count_by_channel(now), frozenset(places))

    async def _due_checkins(self, now: float, limit: int) -> list[Any]:
        return await self.store.due_followups(self.followup_channels(), now, limit)

    # -- inside the transaction -------------------------------------------------------------

    async def _transact(self, person: Address,
                        body: Callable[[ConversationStore], Awaitable[T]]) -> T:
        """The person's lock and the store's turn around `body`: committed when it returns,
        rolled back when it raises."""
        async with (self._locks.hold(person),
                    self.store.turn(person.channel, person.user_id) as store):
            return await body(store)

    async def _decide(self, store: ConversationStore, conv: Conversation, known: Known,
                      decision: Decision) -> Decision:
        """Read what the decision still needs, and let the dialog finish it."""
        if decision.needs == NEEDS_FOLLOWUPS:
            followups = tuple(await store.followups(conv.channel, conv.user_id))
            return self.dialog.finish(conv, decision, replace(known, followups=followups))
        if decision.needs == NEEDS_STORED:
            stored = await store.stored_about(conv.channel, conv.user_id)
            return self.dialog.finish(conv, decision, replace(known, stored=stored))
        return decision

    async def _keep(self, store: ConversationStore, conv: Conversation, decision: Decision,
                    now: float, ref_before: str) -> list[Address]:
        """Save the conversation (unless forgotten), its booking reference when it is new,
        and the decision's effects; the staff places to flush after the commit."""
        if not decision.forgotten:
            await store.save(conv, now)
            if conv.booking_ref != ref_before:
                await store.save_booking_ref(conv.booking_ref, conv.channel, conv.user_id,
                                             conv.credited_flow, now)
        return await self._effects(store, conv, decision, now)

    async def _effects(self, store: ConversationStore, conv: Conversation, decision: Decision,
                       now: float) -> list[Address]:
        if not decision.effects:  # most turns: one question answered, the next one asked
            return []
        notices = await apply_effects(
            store, conv, decision.effects, now,
            pseudonym=lambda channel, user: pseudonym(self.settings.link_key, channel, user),
            forgotten_notice=self.dialog.personal.forgotten_notice)
        if not notices:
            return []
        return await queue_for_staff(store, notices, self.wiring.staff_places, now,
                                     self.wiring.alert_places)

    def _reply(self, conv: Conversation, decision: Decision) -> Reply:
        return Reply(
            messages=tuple(decision.messages),
            turn=conv.turn,
            state=FORGOTTEN if decision.forgotten else (conv.state or IDLE),
            flow=conv.flow,
            stale=decision.stale,
            applied=decision.applied,
            extras={"answered": decision.answered} if decision.answered else {},
            expects_text=self.dialog.expects_text(conv),
            edit=decision.edit,
            relay=conv.relay,
        )

    def _sends_by_outbox(self, event: Event) -> bool:
        """Replies to a person's own update go through the outbox on channels that queue
        them; staff replies on every channel some process can deliver to (the person's
        channel may run in another process than the staff place)."""
        if event.kind is EventKind.STAFF:
            return event.channel in self.wiring.delivered
        return event.channel in self.wiring.queued

    async def _enqueue(self, store: ConversationStore, person: Address, reply: Reply,
                       none_waiting: bool) -> tuple[Reply, Claim | None]:
        """The reply's messages into the outbox. Where this process sends them, they are
        claimed with the turn unless older ones wait, so the flush after it claims nothing.
        One that replaces the pressed message is held for this process: the channel edits it
        in place, and only sends it if that fails."""
        now, lease = self.clock(), self.deliveries.lease
        sends_them = person.channel in self.outboxes and not reply.edit
        ids, claimed = await store.enqueue_all(
            person, reply.turn, reply.messages, now,
            claim=lease if sends_them else 0.0, hold=lease if reply.edit else 0.0,
            none_waiting=none_waiting,
        )
        reply = replace(reply, queued=tuple(ids))
        if not claimed:
            return reply, None
        messages = tuple(Outgoing(outgoing_id, person, reply.turn, message)
                         for outgoing_id, message in zip(ids, reply.messages, strict=True))
        return reply, Claim(person, messages, now + lease)

    async def _flush_all(self, addresses: list[Address]) -> None:
        """After the commit: each address's messages sent now where this process sends
        them; else the outbox's next pass (or the process that runs that channel) does."""
        for address in addresses:
            if not await self.flush(address):
                self.deliveries.wake()


def _key(person: Address) -> tuple[str, str]:
    return person.channel, person.user_id
