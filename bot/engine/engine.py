"""The dialog engine: one Event in, one Reply out, state saved after every turn."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from transitions import Machine

from bot.core import records
from bot.core.clicks import pseudonym
from bot.core.conversation import Answer, Conversation, new_booking_ref
from bot.core.effects import (
    FORGOTTEN_NOTICE,
    Address,
    CancelFollowups,
    Effect,
    Outgoing,
    RecordEvent,
    SaveConsent,
    SaveLead,
    SaveProgress,
    StaffNotice,
    StaffNotifier,
    staff_address,
)
from bot.core.events import (
    DANGER,
    DONE_CHOICE,
    FORGOTTEN,
    Choice,
    Event,
    EventKind,
    Message,
    Reply,
)
from bot.core.wire import reply_from_json, reply_to_json
from bot.engine.commands import Command, Commands
from bot.engine.compose import Composer, red_flag_on_record
from bot.engine.flow import (
    DONE_TRIGGER,
    INPUT_TRIGGER,
    ROUTE_TRIGGER,
    SKIP_TRIGGER,
    UNSURE,
    YES,
    Flow,
    Option,
    State,
)
from bot.engine.followups import FollowupTimer, known_timezone
from bot.engine.inputs import parse_input
from bot.engine.machine import build_machine, holds
from bot.engine.matching import (
    MAX_MATCH_LENGTH,
    is_hedged,
    match_option,
    match_option_loosely,
    match_options,
    normalize,
    parse_number,
)
from bot.engine.outbox import Claim, Deliveries
from bot.engine.privacy import consent_version, consents_given, describe, is_empty
from bot.engine.reminders import Reminders
from bot.engine.render import Renderer
from bot.engine.scoring import highest_red_flag
from bot.engine.turn import Turn
from bot.settings import Settings
from bot.store.base import ConversationStore

FORGET_YES, FORGET_NO = "forget_yes", "forget_no"
STAFF_DONE = "/done"
ACTIONS = ("save_lead", "discard_lead", "record_progress")
LEAD_FIELDS = ("name", "contact")  # what a lead can take from a flow's facts (`lead:`)
MAX_ROUTE_STEPS = 50
IDLE = "idle"
LATE_WINDOW = 86400.0  # seconds an out-of-order update can still arrive (see _arrived_late)
MYDATA, WITHDRAW = "mydata", "withdraw"  # commands that read or change what the store keeps
CONSENT_WITHDRAWN = "consent_withdrawn"

log = logging.getLogger(__name__)


class Engine:
    """Runs flows for every conversation; platform-neutral, one event at a time per person."""

    def __init__(
        self,
        flows: dict[str, Flow],
        renderer: Renderer,
        store: ConversationStore,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        notifier: StaffNotifier | None = None,
        commands: Commands | None = None,
    ) -> None:
        self.flows = flows
        self.commands = commands or Commands([])
        self.renderer = renderer
        self.store = store
        self.settings = settings
        self.clock = clock
        self.notifier = notifier
        self.compose = Composer(flows, renderer, settings)
        self.machines: dict[str, Machine] = {fid: build_machine(f) for fid, f in flows.items()}
        self.consent_versions = {fid: consent_version(renderer, f) for fid, f in flows.items()}
        # Both read `self.clock` when they run, so a clock set later (tests) is theirs too.
        self.deliveries = Deliveries(store, lambda: self.clock(), lease=settings.outbox_lease)
        self.outboxes = self.deliveries.outboxes  # channel name -> how to reach a person there
        self.queued_channels: set[str] = set()  # channels whose replies go by the outbox
        self.delivered_channels: set[str] = set()  # channels some process runs an outbox for
        self.pull_channels: set[str] = set()  # of those, where people collect them (the web)
        self.staff_places: set[str] = set()  # staff places configured (names of their channels)
        self.reminders = Reminders(self)
        self.followups = FollowupTimer(self._due_followups, self.reminders.fire,
                                       lambda: self.clock(), settings.followups.poll_seconds)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._waiting: dict[tuple[str, str], int] = {}

    # -- the one entry point ------------------------------------------------------------------

    async def handle(self, event: Event) -> Reply:
        """Process one event for its conversation and return what to say.

        The whole turn is one store transaction under the person's lock (across processes and
        replicas): the new state, its funnel events, leads, consents, the update's id and, for
        channels that send through the outbox, the outgoing messages, all saved or none. An
        update already applied gets the reply it got then. Staff notices go out after the
        transaction, so a slow staff place never holds a person.
        """
        address, claim = Address(event.channel, event.user_id), None
        async with (
            self._conversation_lock(event.channel, event.user_id),
            self.store.turn(event.channel, event.user_id) as store,
        ):
            start = await store.load_turn(event.channel, event.user_id, event.update_id)
            if start.earlier_reply is not None:
                return reply_from_json(start.earlier_reply)
            conversation = start.conversation or Conversation(event.channel, event.user_id)
            turn = await self._turn(store, conversation, event, start.undelivered)
            notices = await self._store_effects(store, conversation, turn.effects)
            notices = await self._queue_for_staff(store, notices)
            reply = self._reply(conversation, turn)
            if self._sends_by_outbox(event):
                reply, claim = await self._enqueue(store, address, reply)
            if event.update_id:
                await store.remember_update(event.channel, event.update_id, event.user_id,
                                            reply_to_json(reply), self.clock())
        if claim is not None:  # committed: the flush after the turn sends them as they are
            self.deliveries.send_at_flush(claim)
        await self._notify_staff(notices)
        return reply

    async def _turn(
        self, store: ConversationStore, conv: Conversation, event: Event, undelivered: int
    ) -> Turn:
        """Decide and apply the event; the conversation is saved (or forgotten) in `store`.
        `undelivered`: how many of the person's messages still wait in the outbox."""
        ref_before = conv.booking_ref
        if event.timezone and known_timezone(event.timezone):
            conv.timezone = event.timezone  # before a check-in is scheduled in this turn
        if not conv.booking_ref:  # booking links name a reference, even outside a screening
            conv.booking_ref = new_booking_ref()
        if self._arrived_late(conv, event):
            turn = self._late(conv)
        elif event.kind is EventKind.TEXT and undelivered:
            await store.drop_undelivered(conv.channel, conv.user_id)
            turn = self._show_again(conv)
        else:
            turn = self._dispatch(conv, event)
        if turn.reminders:
            turn = await self.reminders.decide(store, conv, turn)
        if event.sequence and not turn.stale:
            conv.last_sequence = event.sequence
        if turn.forgotten:
            turn.effects += await self._forget(store, event.channel, event.user_id)
        else:
            await store.save(conv, self.clock())
            if conv.booking_ref != ref_before:
                await store.save_booking_ref(conv.booking_ref, conv.channel, conv.user_id,
                                             conv.flow or "", self.clock())
        if turn.privacy:
            turn = await self._privacy(store, conv, turn)
        return turn

    def _arrived_late(self, conv: Conversation, event: Event) -> bool:
        """An update numbered before the last one applied for this person. Only within a day
        of that one: platforms resend for a day at most, and Telegram may number afresh after
        a quiet week."""
        recent = self.clock() - conv.updated_at < LATE_WINDOW
        return bool(event.sequence) and event.sequence < conv.last_sequence and recent

    def _reply(self, conversation: Conversation, turn: Turn) -> Reply:
        return Reply(
            messages=tuple(turn.messages),
            turn=conversation.turn,
            state=FORGOTTEN if turn.forgotten else (conversation.state or IDLE),
            flow=conversation.flow,
            stale=turn.stale,
            applied=turn.applied,
            extras={"answered": turn.answered} if turn.answered else {},
            expects_text=self._expects_text(conversation),
            edit=turn.edit,
        )

    def _sends_by_outbox(self, event: Event) -> bool:
        """Replies to a person's own update go through the outbox on channels that ask for it;
        staff replies on every channel some process can deliver to (the person's channel may
        run in another process than the staff place)."""
        if event.kind is EventKind.STAFF:
            return event.channel in self.delivered_channels
        return event.channel in self.queued_channels

    async def _enqueue(
        self, store: ConversationStore, address: Address, reply: Reply
    ) -> tuple[Reply, Claim | None]:
        """The reply's messages into the outbox. Where this process sends them, they are
        claimed with the turn unless older ones wait, so the flush after it claims nothing.
        One that replaces the pressed message is held for this process: the channel edits it
        in place, and only sends it if that fails."""
        now, lease = self.clock(), self.deliveries.lease
        sends_them = address.channel in self.outboxes and not reply.edit
        ids, claimed = await store.enqueue_all(
            address, reply.turn, reply.messages, now,
            claim=lease if sends_them else 0.0, hold=lease if reply.edit else 0.0,
        )
        reply = replace(reply, queued=tuple(ids))
        if not claimed:
            return reply, None
        messages = tuple(Outgoing(outgoing_id, address, reply.turn, message)
                         for outgoing_id, message in zip(ids, reply.messages, strict=True))
        return reply, Claim(address, messages, now + lease)

    async def from_staff(self, address: Address, text: str) -> Reply:
        """A staff member's reply to a person: handled as their event, delivered through the
        person's own channel (whichever it is, in whichever process runs it)."""
        reply = await self.handle(Event(address.channel, address.user_id, EventKind.STAFF,
                                        text=text))
        if not await self.flush(address):
            self.deliveries.wake()
        return reply

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

    async def _due_followups(self, now: float, limit: int) -> list[Any]:
        """Pending follow-ups due now, on channels some process delivers to."""
        return await self.store.due_followups(self.followup_channels(), now, limit)

    def followup_channels(self) -> list[str]:
        """Channels a check-in can reach: some process sends there unasked."""
        return sorted(self.delivered_channels - self.pull_channels)

    def notice(self, template: str, channel: str = "", **extra: Any) -> str:
        """Light-markup text of a template outside any conversation (channel notices)."""
        return self.compose.render(template, Conversation(channel, ""), **extra)

    async def purge_expired(self) -> dict[str, int]:
        """Delete conversations, events and leads older than the retention window."""
        cutoff = self.clock() - self.settings.retention_days * 86400
        return await self.store.purge(cutoff)

    @asynccontextmanager
    async def _conversation_lock(self, channel: str, user_id: str) -> AsyncIterator[None]:
        """Serialise events per conversation; the lock is dropped when nobody waits on it."""
        key = (channel, user_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def _store_effects(
        self, store: ConversationStore, conv: Conversation, effects: list[Effect]
    ) -> list[StaffNotice]:
        """Save funnel events and leads with the turn; return the staff notices to send."""
        notices = []
        for effect in effects:
            if isinstance(effect, RecordEvent):
                await store.record(effect.kind, conv.channel, conv.user_id, effect.flow,
                                   effect.detail, at=self.clock(), version=effect.version)
            elif isinstance(effect, SaveLead):
                await store.save_lead(effect.lead)
            elif isinstance(effect, SaveConsent):
                await store.save_consent(effect.consent)
            elif isinstance(effect, CancelFollowups):
                await store.cancel_followups(conv.channel, conv.user_id, effect.reason)
            elif isinstance(effect, SaveProgress):
                await store.save_followup_result(effect.followup_id, effect.progress)
            else:
                notices.append(effect)
        return notices

    async def _queue_for_staff(
        self, store: ConversationStore, notices: list[StaffNotice]
    ) -> list[StaffNotice | Address]:
        """Staff notices saved with the turn, one outbox row per staff place, when places are
        configured (the runner); without them, an in-process `notifier` gets them directly."""
        if not self.staff_places:
            return list(notices)
        now, queued = self.clock(), []
        for notice in notices:
            for place in sorted(self.staff_places):
                address = staff_address(place, notice)
                await store.enqueue(address, 0, notice, now)
                queued.append(address)
        return list(dict.fromkeys(queued))

    async def _notify_staff(self, notices: list[StaffNotice | Address]) -> None:
        """After the turn: staff rows sent now where their place runs in this process (else by
        the process that runs it); in-process notices handed to the notifier."""
        for notice in notices:
            if isinstance(notice, Address):
                if not await self.flush(notice):
                    self.deliveries.wake()
                continue
            if self.notifier is not None:
                await self.notifier.notify(notice)
            else:
                log.info("no staff place configured; a %s notice was not sent", notice.kind)

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, conv: Conversation, event: Event) -> Turn:
        if event.kind is EventKind.COMMAND:
            return self._command(conv, event.command, event.argument)
        if event.kind is EventKind.PRESS:
            return self._press(conv, event)
        if event.kind is EventKind.STAFF:
            return self._from_staff(conv, event.text)
        if event.kind is EventKind.UNSUPPORTED:
            return self._with_current(conv, self.compose.say("common/unsupported.j2", conv))
        if conv.relay:
            return self._to_staff(conv, event.text)
        return self._text(conv, event.text)

    def _command(self, conv: Conversation, name: str, argument: str = "") -> Turn:
        command = self.commands.get(name)
        if command is None:
            unknown = self.compose.say("common/unknown_command.j2", conv, name=name.lower())
            return self._with_current(conv, unknown)
        if command.action == "flow" and self._unfinished(conv, command.flow):
            return self._with_current(conv, self.compose.say("common/resumed.j2", conv))
        if command.action == "flow":
            return self._start(conv, command.flow, source=argument)
        if command.action in ("start", "restart"):
            return self._start_command(conv, command.action, argument)
        if command.action == "back":
            return self._back(conv)
        if command.action == "stop_reminders" or (
                command.action == "stop" and normalize(argument) in Reminders.STOP_WORDS):
            return Turn(applied=True, reminders=Reminders.STOP)
        if command.action == "stop":
            return self._cancel(conv)
        if command.action == "forget":
            return self._ask_forget(conv)
        if command.action == "talk":
            return self._talk(conv)
        if command.action in (MYDATA, WITHDRAW):
            return Turn(applied=command.action == WITHDRAW, privacy=command.action)
        if command.action == "remind":
            return Turn(reminders=Reminders.OFFER)
        return self._info(conv, command)

    def _info(self, conv: Conversation, command: Command) -> Turn:
        """help, about, book...: a message (and its link) while the person keeps their place."""
        if command.link == "book" and self._after_red_flag(conv):
            return Turn([self._state_message(conv)])  # the advice again, never a booking
        if command.link == "book" and red_flag_on_record(conv):
            return self._with_current(conv, self.compose.say("common/book_after_red_flag.j2", conv))
        return self._with_current(conv, self.compose.info(conv, command.name, command.link))

    def _unfinished(self, conv: Conversation, flow_id: str) -> bool:
        """A flow command mid-flow resumes it; only `restart` starts it over."""
        state = self._state(conv)
        return conv.flow == flow_id and state is not None and not state.final

    def _start_command(self, conv: Conversation, action: str, argument: str) -> Turn:
        payload = normalize(argument)
        command = self.commands.get(payload) if payload else None
        if command is not None and command.deep_link and command.action != "flow":
            conv.source = conv.source or payload
            return self._command(conv, payload)
        flow_id = command.flow if command is not None and command.deep_link else None
        if payload and flow_id is None:
            conv.source = conv.source or payload  # a campaign tag, e.g. ?start=instagram
        if flow_id is None and action == "start" and self._unfinished(conv, conv.flow or ""):
            flow_id = conv.flow  # a plain /start mid-way resumes; only restart starts over
        if flow_id is not None and self._unfinished(conv, flow_id):
            return self._with_current(conv, self.compose.say("common/resumed.j2", conv))
        if flow_id is None and action == "restart" and conv.flow:
            flow_id = conv.flow
        return self._start(conv, flow_id or self.settings.default_flow, source=payload)

    def _press(self, conv: Conversation, event: Event) -> Turn:
        current = event.turn == conv.turn
        if conv.pending == "forget" and event.choice_id in (FORGET_YES, FORGET_NO) and current:
            return self._answer_forget(conv, event.choice_id == FORGET_YES)
        if conv.pending == Reminders.PENDING and current:
            return self.reminders.pressed(conv, event.choice_id)
        state = self._state(conv)
        if current and state and event.choice_id.lstrip("/") in state.commands:
            return self._command(conv, event.choice_id.lstrip("/"))
        if current and state and state.multi and event.choice_id == DONE_CHOICE:
            return self._finish_selection(conv, state)
        option = state.option(event.choice_id) if state and not conv.pending else None
        if option is None or not current:
            return self._stale(conv, event)
        if state.multi and not option.exclusive:
            return self._toggle(conv, state, option)
        return self._apply_option(conv, state, option)

    def _text(self, conv: Conversation, text: str) -> Turn:
        if conv.pending == "forget":
            return self._text_for_forget(conv, text)
        if conv.pending == Reminders.PENDING:
            picked = self.reminders.typed(conv, text)
            if picked is not None:
                return picked
        state = self._state(conv)
        if state is None:
            asked = self._command_in_text(text)
            return self._command(conv, asked.name if asked else "start")
        if state.multi:
            picked = self._typed_selection(state, text)
            if picked is not None:
                return picked(conv)
        asks_number = state.input is not None and state.input.type == "number"
        if asks_number and parse_number(text) is not None:
            return self._typed_number(conv, state, text)  # "1" is a score, not button 1
        option = match_option(text, state.options)
        if option is not None:
            return self._apply_option(conv, state, option)
        if state.input is not None:
            value = parse_input(state.input, text, self.settings.phone_region)
            if value is not None:
                return self._apply_input(conv, state, value)
        command = self._command_in_text(text)
        if command is not None:
            return self._command(conv, command.name)
        unsure = state.option(UNSURE)
        if unsure is not None and is_hedged(text):  # "not sure really" is never "no"
            return self._apply_option(conv, state, unsure)
        option = match_option_loosely(text, state.options)
        if option is not None:
            return self._apply_option(conv, state, option)
        if state.final and state.red_flag:
            return Turn([self._state_message(conv)])  # the advice again, never a booking
        if state.final:
            finished = self.compose.say("common/finished.j2", conv,
                                        offers_booking="book" in state.links)
            return Turn([finished])
        return self._reask(conv, state, text)

    def _typed_number(self, conv: Conversation, state: State, text: str) -> Turn:
        """A number typed where a number is asked: the answer, or asked again when it is out
        of range (never taken as the button of that number)."""
        assert state.input is not None
        value = parse_input(state.input, text, self.settings.phone_region)
        if value is None:
            return self._reask(conv, state, text)
        return self._apply_input(conv, state, value)

    def _reask(self, conv: Conversation, state: State, text: str) -> Turn:
        reask = self.compose.say("common/reask.j2", conv, too_long=len(text) > 500,
                                 input_type=state.input.type if state.input else "")
        return self._with_current(conv, reask)

    # -- moving through a flow ----------------------------------------------------------------

    def _start(self, conv: Conversation, flow_id: str, source: str = "") -> Turn:
        flow = self.flows[flow_id]
        conv.begin(flow_id, flow.start, now=self.clock())
        if flow.red_flags or flow.drivers:
            conv.last_outcome = None  # a new screening: an old result no longer stands
        if source:
            conv.source = source
        conv.turn += 1
        effects: list[Effect] = [RecordEvent(records.STARTED, flow_id)]
        effects += self._settle(conv)
        message = self._state_message(conv)
        effects += self._act(conv)
        return Turn([message], applied=True, effects=effects)

    def _apply_option(self, conv: Conversation, state: State, option: Option) -> Turn:
        if state.multi:  # an exclusive pick ("Not sure") answers on its own
            conv.selection = [option.id]
            return self._finish_selection(conv, state)
        conv.history.append(Answer(state.id, option.id))
        self._record(conv, state, option.id, typed=False)
        conv.last_choice = option.id
        self.machines[conv.flow].events[option.id].trigger(conv)
        return self._advance(conv, answered=option.label)

    def _apply_input(self, conv: Conversation, state: State, value: Any) -> Turn:
        conv.history.append(Answer(state.id, value, typed=True))
        self._record(conv, state, value, typed=True)
        conv.last_choice = ""
        self.machines[conv.flow].events[INPUT_TRIGGER].trigger(conv)
        shown = ", ".join(value.values()) if isinstance(value, dict) else str(value)
        return self._advance(conv, answered=shown)

    # -- multi-select ---------------------------------------------------------------------------

    def _toggle(self, conv: Conversation, state: State, option: Option) -> Turn:
        """Pick or unpick one option; the question is shown again with the picks marked."""
        exclusive = {o.id for o in state.options if o.exclusive}
        picked = [choice for choice in conv.selection if choice not in exclusive]
        conv.selection = (
            [c for c in picked if c != option.id] if option.id in picked else [*picked, option.id]
        )
        conv.last_choice = option.id
        conv.turn += 1
        return Turn([self._state_message(conv)], applied=True, edit=True)

    def _finish_selection(self, conv: Conversation, state: State) -> Turn:
        """Done: the picks become one answer, in the order the options are listed."""
        if not conv.selection:
            nothing = self.compose.say("common/pick_one.j2", conv)
            return self._with_current(conv, nothing)
        picked = tuple(o.id for o in state.options if o.id in conv.selection)
        conv.selection = []
        conv.history.append(Answer(state.id, picked))
        self._record(conv, state, picked, typed=False)
        conv.last_choice = DONE_CHOICE
        self.machines[conv.flow].events[DONE_TRIGGER].trigger(conv)
        labels = [o.label for o in state.options if o.id in picked]
        return self._advance(conv, answered=", ".join(labels))

    def _typed_selection(self, state: State, text: str) -> Any:
        """Typed picks (`1, 3`, `stairs and running`, `done`) as an action, or None."""
        if normalize(text) in (DONE_CHOICE, "that's all", "thats all", "finished"):
            return lambda conv: self._finish_selection(conv, state)
        options = match_options(text, state.options)
        if not options:
            return None
        if len(options) > 1:
            options = [o for o in options if not o.exclusive] or options[:1]

        def answer(conv: Conversation) -> Turn:
            conv.selection = [o.id for o in options]
            return self._finish_selection(conv, state)

        return answer

    def _advance(self, conv: Conversation, answered: str) -> Turn:
        conv.turn += 1
        effects = self._settle(conv)
        message = self._state_message(conv)
        effects += self._act(conv)
        return Turn([message], applied=True, answered=answered, effects=effects)

    def _settle(self, conv: Conversation) -> list[Effect]:
        """Move on to the next question to show: a "yes" to any red flag goes to the exit of the
        highest urgency answered "yes", whatever the flow file says; routing states route;
        questions not to be asked are skipped. Then finish and act on final states.
        """
        flow, machine = self.flows[conv.flow], self.machines[conv.flow]
        for _ in range(MAX_ROUTE_STEPS):
            flag = highest_red_flag(flow, conv.facts.get("red_flags", ()))
            if flag is not None and conv.state != flag.exit:
                machine.set_state(flag.exit, model=conv)
            state = self._state(conv)
            if state is None or state.final:
                break
            if state.route:
                machine.events[ROUTE_TRIGGER].trigger(conv)
            elif self._not_asked(flow, state, conv):
                machine.events[SKIP_TRIGGER].trigger(conv)
            else:
                break
        state = self._state(conv)
        conv.finished = bool(state and state.final)
        if state is None or not state.final:
            return []
        return self._finish(conv, state)

    @staticmethod
    def _not_asked(flow: Flow, state: State, conv: Conversation) -> bool:
        """A question whose `ask_if` fails, or a loaded self-check while a safety answer is
        still "not sure" (the person should see a doctor before putting weight through it)."""
        if not all(holds(c, flow, conv.facts, conv.scores) for c in state.ask_if):
            return True
        return state.loaded and bool(conv.facts.get("unsure_flags"))

    def _finish(self, conv: Conversation, state: State) -> list[Effect]:
        flow = self.flows[conv.flow]
        effects: list[Effect] = []
        if not state.outcome:
            return effects  # ends the flow without a screening result (e.g. "not now")
        if state.red_flag:
            effects.append(RecordEvent(records.RED_FLAG, flow.id, state.red_flag, flow.version))
            effects.append(CancelFollowups("red_flag"))  # a doctor first: no check-ins
        else:
            effects.append(RecordEvent(records.FINISHED, flow.id, state.id, flow.version))
        if flow.drivers or flow.red_flags:
            # The answers go with the outcome: a clinician's audit shows what it came from,
            # even after the person moves on to another flow.
            answers = [[a.state, a.value, a.typed] for a in conv.history]
            conv.last_outcome = {**self.compose.outcome(conv, state).as_dict(), "answers": answers}
        return effects

    def _act(self, conv: Conversation) -> list[Effect]:
        """Run the current state's action, once its message has been composed.

        `save_lead` keeps a lead made of the facts the flow's `lead:` maps; `discard_lead`
        keeps nothing. Either way those facts, and the answers that gave them, leave the
        conversation: contact details live in the lead only.
        """
        state = self._state(conv)
        if state is None or not state.action:
            return []
        flow = self.flows[conv.flow]
        if state.action == "record_progress":
            return self.reminders.progress(conv, flow)
        effects = self._save_lead(conv, flow) if state.action == "save_lead" else []
        facts = set(flow.lead.values())
        for fact in facts:
            conv.facts.pop(fact, None)
        given = {s.id for s in flow.states.values() if s.input and s.input.fact in facts}
        conv.history = [a for a in conv.history if a.state not in given]
        return effects

    def _save_lead(self, conv: Conversation, flow: Flow) -> list[Effect]:
        fields = {name: conv.facts.get(fact) for name, fact in flow.lead.items()}
        contact = fields.get("contact") or {}
        outcome = conv.last_outcome or {}
        version = self.consent_versions.get(flow.id, "")
        lead = records.Lead(
            channel=conv.channel,
            user_id=conv.user_id,
            name=str(fields.get("name") or ""),
            email=contact.get("email", ""),
            phone=contact.get("phone", ""),
            source=conv.source,
            flow=outcome.get("flow", ""),
            drivers=tuple(outcome.get("drivers", ())),
            red_flag=outcome.get("red_flag"),
            created_at=self.clock(),
            flow_version=str(outcome.get("version", "")),
            urgency=outcome.get("urgency"),
            consent_version=version,
        )
        text = self.compose.render("staff/lead.j2", conv, lead=lead, outcome=outcome)
        consents = consents_given(flow, version, conv.channel, conv.user_id, self.clock())
        return [SaveLead(lead), *(SaveConsent(c) for c in consents),
                RecordEvent(records.LEAD, conv.flow or ""),
                StaffNotice("lead", conv.channel, conv.user_id, text)]

    def _back(self, conv: Conversation) -> Turn:
        if conv.pending or not conv.history or conv.flow not in self.flows:
            nothing = self.compose.say("common/nothing_to_undo.j2", conv)
            return self._with_current(conv, nothing)
        undone = conv.history.pop()
        conv.state, conv.finished, conv.last_choice = undone.state, False, ""
        conv.facts, conv.scores, conv.selection = {}, {}, []
        flow = self.flows[conv.flow]
        for answer in conv.history:
            self._record(conv, flow.states[answer.state], answer.value, answer.typed)
        conv.turn += 1
        return Turn([self._state_message(conv)], applied=True)

    def _cancel(self, conv: Conversation) -> Turn:
        was_in_flow = conv.flow is not None
        effects = self._end_relay(conv)
        conv.flow, conv.state = None, ""
        conv.clear_answers()
        conv.turn += 1
        cancelled = self.compose.say("common/cancelled.j2", conv, was_in_flow=was_in_flow)
        return Turn([cancelled], applied=True, effects=effects)

    def _stale(self, conv: Conversation, event: Event) -> Turn:
        duplicate = event.turn == conv.turn - 1 and event.choice_id == conv.last_choice
        if duplicate:
            return Turn(stale=True)  # the same press arriving twice: already answered
        stale = self.compose.say("common/stale.j2", conv)
        return self._with_current(conv, stale, stale=True)

    def _late(self, conv: Conversation) -> Turn:
        """An update older than one already applied (it was delayed or resent): not applied."""
        late = self.compose.say("common/late.j2", conv)
        return self._with_current(conv, late, stale=True)

    def _show_again(self, conv: Conversation) -> Turn:
        """A typed answer while the last question is still on its way to the person: they have
        not seen it, so nothing is applied and the question is shown again."""
        missed = self.compose.say("common/undelivered.j2", conv)
        if conv.pending == "forget":
            conv.pending = ""
            asked = self._ask_forget(conv)
            return Turn([missed, *asked.messages], stale=True, applied=True)
        state = self._state(conv)
        messages = [missed] if state is None else [missed, self._state_message(conv)]
        return Turn(messages, stale=True)

    # -- talking with staff -------------------------------------------------------------------

    def _talk(self, conv: Conversation) -> Turn:
        if self.notifier is None and not self.staff_places:  # nobody to tell: promise nothing
            unavailable = self.compose.say("common/talk_unavailable.j2", conv)
            return self._with_current(conv, unavailable)
        already = conv.relay
        conv.relay = True
        reply = self.compose.say("common/talk_requested.j2", conv, already=already)
        if already:
            return Turn([reply])
        text = self.compose.render("staff/talk_request.j2", conv,
                                   outcome=conv.last_outcome or {})
        effects: list[Effect] = [
            RecordEvent(records.TALK_REQUEST, conv.flow or ""),
            StaffNotice("talk_request", conv.channel, conv.user_id, text),
        ]
        return Turn([reply], applied=True, effects=effects)

    def _to_staff(self, conv: Conversation, text: str) -> Turn:
        relayed = self.compose.render("staff/relay_message.j2", conv, text=text)
        return Turn(effects=[StaffNotice("relay_message", conv.channel, conv.user_id, relayed)])

    def _from_staff(self, conv: Conversation, text: str) -> Turn:
        if text.strip().lower() == STAFF_DONE:
            effects = self._end_relay(conv)
            ended = self.compose.say("common/relay_ended.j2", conv)
            return Turn([ended], applied=True, effects=effects)
        return Turn([self.compose.say("common/staff_message.j2", conv, text=text)])

    def _end_relay(self, conv: Conversation) -> list[Effect]:
        if not conv.relay:
            return []
        conv.relay = False
        text = self.compose.render("staff/relay_ended.j2", conv)
        return [StaffNotice("relay_ended", conv.channel, conv.user_id, text)]

    # -- forget -------------------------------------------------------------------------------

    def _ask_forget(self, conv: Conversation) -> Turn:
        conv.pending = "forget"
        conv.turn += 1
        labels = self.compose.labels(conv)
        choices = (Choice(FORGET_YES, labels.forget_yes, style=DANGER),
                   Choice(FORGET_NO, labels.forget_no))
        text = self.compose.render("common/forget_confirm.j2", conv)
        return Turn([Message(text, choices)], applied=True)

    def _text_for_forget(self, conv: Conversation, text: str) -> Turn:
        labels = self.compose.labels(conv)
        yes_words = ("yes", "y", "yes please", "delete", "delete everything")
        options = (
            Option(FORGET_YES, labels.forget_yes, "", synonyms=yes_words),
            Option(FORGET_NO, labels.forget_no, "", synonyms=("no", "n", "keep", "cancel")),
        )
        option = match_option(text, options)
        if option is None:
            conv.pending = ""
            return self._ask_forget(conv)
        return self._answer_forget(conv, option.id == FORGET_YES)

    def _answer_forget(self, conv: Conversation, confirmed: bool) -> Turn:
        conv.pending = ""
        if confirmed:
            # No "chat ended" notice: it would be a new record of the person after the delete;
            # the `forgotten` notice blanks the chat's notices instead.
            done = self.compose.say("common/forgotten.j2", conv)
            return Turn([done], applied=True, forgotten=True)
        conv.turn += 1
        kept = self.compose.say("common/kept.j2", conv)
        return self._with_current(conv, kept, applied=True)

    async def _forget(self, store: ConversationStore, channel: str, user_id: str) -> list[Effect]:
        """Delete everything kept about the person; ask staff places to blank their notices.

        The notices' message ids are read first: the delete takes the record of them too.
        """
        earlier = await store.relay_messages(channel, user_id)
        await store.delete(channel, user_id)
        await store.forget_clicks(pseudonym(self.settings.link_key, channel, user_id))
        if not earlier:
            return []
        text = self.compose.render("staff/forgotten.j2", Conversation(channel, user_id))
        return [StaffNotice(FORGOTTEN_NOTICE, channel, user_id, text, redact=tuple(earlier))]

    # -- what is stored: see it, withdraw consent -------------------------------------------------

    async def _privacy(self, store: ConversationStore, conv: Conversation, turn: Turn) -> Turn:
        """/mydata shows everything stored; /withdraw takes back every consent and deletes the
        contact details it covered. Either way the person keeps their place."""
        stored = describe(await store.stored_about(conv.channel, conv.user_id), self.flows)
        if turn.privacy == MYDATA:
            shown = self.compose.say("common/mydata.j2", conv, data=stored,
                                     nothing=is_empty(stored))
            return self._with_current(conv, shown)
        standing = [c for c in stored["consents"] if c["withdrawn_at"] is None]
        if not standing and not stored["leads"]:
            nothing = self.compose.say("common/withdrawn.j2", conv, withdrawn=False)
            return self._with_current(conv, nothing)
        await store.withdraw_consents(conv.channel, conv.user_id, self.clock())
        await store.delete_leads(conv.channel, conv.user_id)
        await store.cancel_followups(conv.channel, conv.user_id, "withdrawn")
        done = self._with_current(conv, self.compose.say("common/withdrawn.j2", conv,
                                                         withdrawn=True), applied=True)
        asked_at = sorted({lead["at"] for lead in stored["leads"]}
                          | {consent["given_at"] for consent in standing})
        text = self.compose.render("staff/consent_withdrawn.j2", conv, asked_at=asked_at)
        done.effects.append(StaffNotice(CONSENT_WITHDRAWN, conv.channel, conv.user_id, text))
        return done

    # -- messages -----------------------------------------------------------------------------

    def _command_in_text(self, text: str) -> Command | None:
        return self.commands.in_text(normalize(text), 4 * MAX_MATCH_LENGTH)

    def _after_red_flag(self, conv: Conversation) -> bool:
        """At a red-flag exit: every message repeats its advice."""
        state = self._state(conv)
        return state is not None and state.final and state.red_flag is not None

    def _expects_text(self, conv: Conversation) -> bool:
        state = self._state(conv)
        return state is not None and state.input is not None and not conv.pending

    def _state(self, conv: Conversation) -> State | None:
        if conv.flow is None or conv.flow not in self.flows:
            return None
        return self.flows[conv.flow].states.get(conv.state)

    def _state_message(self, conv: Conversation) -> Message:
        state = self._state(conv)
        assert state is not None
        return self.compose.state_message(conv, state)

    def _with_current(
        self, conv: Conversation, first: Message, stale: bool = False, applied: bool = False
    ) -> Turn:
        """A message, then the current question again, so the person never loses their place."""
        messages = [first]
        state = self._state(conv)
        if state is not None and not state.final and not conv.pending:
            messages.append(self._state_message(conv))
        return Turn(messages, stale=stale, applied=applied)


    @staticmethod
    def _record(conv: Conversation, state: State, value: Any, typed: bool) -> None:
        """Apply one answer's facts and scores, and what a safety answer means."""
        if typed:
            if state.input is not None:
                conv.facts[state.input.fact] = value
            return
        picked = value if state.multi else (value,)
        for option_id in picked:
            option = state.option(option_id)
            if option is None:
                continue
            conv.facts.update(option.facts)
            for key, delta in option.scores.items():
                conv.scores[key] = conv.scores.get(key, 0) + delta
        if state.multi and state.fact:
            conv.facts[state.fact] = list(picked)
        if state.safety and value == YES:
            conv.facts["red_flags"] = [*conv.facts.get("red_flags", ()), state.safety]
        elif state.safety and state.clarify and value == UNSURE:
            conv.facts["unsure_flags"] = [*conv.facts.get("unsure_flags", ()), state.safety]
