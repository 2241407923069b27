"""The engine's follow-up dialog: offering a check-in after a result, scheduling it with the
person's yes, stopping it, firing it when due, and the check-in's progress.

Part of the engine (it works on the engine's turn and messages); split out to keep each file
about one thing. Which follow-ups exist, their delays and words are declared per flow in YAML
(`followups:`); nothing here knows about knees.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.core import records
from bot.core.conversation import Answer, Conversation
from bot.core.effects import Address, Effect, RecordEvent, SaveConsent, SaveProgress, StaffNotice
from bot.core.events import PRIMARY, Choice, Message
from bot.core.records import PENDING, SENT, SKIPPED, Consent, Followup
from bot.engine.flow import Flow, FollowupKind, FollowupSpec, Option
from bot.engine.followups import BUSY_DELAY, BUSY_TRIES, baseline_of, progress_of, quiet_until
from bot.engine.matching import match_option
from bot.engine.turn import Turn
from bot.store.base import ConversationStore

if TYPE_CHECKING:
    from bot.engine.engine import Engine

CHOICE_PREFIX = "remind_"
NO_THANKS = CHOICE_PREFIX + "no"
BUSY_WINDOW = 1800.0  # seconds since their last message in which a person counts as busy
CHECKIN_NOTICE = "checkin"


class Reminders:
    """Follow-ups for the engine's conversations (see the module docstring)."""

    OFFER, STOP, PENDING = "offer", "stop", "remind"
    STOP_WORDS = ("reminders", "reminder", "the reminders", "follow ups", "followups")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- asking for one ---------------------------------------------------------------------

    async def decide(self, store: ConversationStore, conv: Conversation, turn: Turn) -> Turn:
        """Finish a turn that offers, schedules or stops follow-ups, against the store."""
        if turn.reminders == self.STOP:
            return await self._stop(store, conv)
        why_not = await self._cannot_remind(store, conv)
        if why_not:
            conv.pending = ""
            unavailable = self.engine.compose.say("common/remind_unavailable.j2", conv,
                                                  reason=why_not)
            return self.engine._with_current(conv, unavailable)
        flow, spec = self._screening(conv)
        assert flow is not None and spec is not None
        if turn.reminders == self.OFFER:
            return self._offer(conv, flow, spec)
        return await self._schedule(store, conv, flow, spec, spec.kinds[turn.reminders])

    def pressed(self, conv: Conversation, choice_id: str) -> Turn:
        """A press on the offer's buttons: a kind, or no thanks."""
        conv.pending = ""
        _, spec = self._screening(conv)
        kind = choice_id.removeprefix(CHOICE_PREFIX)
        if spec is not None and choice_id.startswith(CHOICE_PREFIX) and kind in spec.kinds:
            return Turn(reminders=kind)
        return self._declined(conv)

    def typed(self, conv: Conversation, text: str) -> Turn | None:
        """A typed answer to the offer ("2 weeks", "no thanks"), or None for anything else
        (the offer is dropped and the text handled as usual)."""
        conv.pending = ""
        _, spec = self._screening(conv)
        if spec is None:
            return None
        option = match_option(text, self._options(conv, spec))
        if option is None:
            return None
        return self.pressed(conv, option.id)

    def _offer(self, conv: Conversation, flow: Flow, spec: FollowupSpec) -> Turn:
        conv.pending = self.PENDING
        conv.turn += 1
        text = self.engine.compose.render(spec.offer_template, conv)
        choices = tuple(Choice(o.id, o.label, style=PRIMARY if i == 0 else "")
                        for i, o in enumerate(self._options(conv, spec)))
        return Turn([Message(text, choices)], applied=True)

    def _options(self, conv: Conversation, spec: FollowupSpec) -> tuple[Option, ...]:
        labels = self.engine.compose.labels(conv)
        kinds = tuple(Option(CHOICE_PREFIX + k.id, k.label, "", synonyms=k.synonyms)
                      for k in spec.kinds.values())
        no = Option(NO_THANKS, labels.remind_no, "",
                    synonyms=("no", "n", "no thanks", "nope", "not now", "never mind"))
        return (*kinds, no)

    def _declined(self, conv: Conversation) -> Turn:
        conv.turn += 1
        declined = self.engine.compose.say("common/remind_declined.j2", conv)
        return self.engine._with_current(conv, declined, applied=True)

    async def _schedule(self, store: ConversationStore, conv: Conversation, flow: Flow,
                        spec: FollowupSpec, kind: FollowupKind) -> Turn:
        """The person's yes: a durable timer, the consent it rests on, a funnel event."""
        engine, now = self.engine, self.engine.clock()
        timezone = conv.timezone or engine.settings.followups.timezone
        due = quiet_until(now + kind.delay, timezone, engine.settings.followups.quiet_window())
        baseline = baseline_of(flow, spec, self._as_screened(conv, flow))
        baseline.setdefault("baseline_at", now)
        await store.schedule_followup(Followup(
            0, conv.channel, conv.user_id, flow.id, kind.id, due, baseline=baseline,
            timezone=timezone, created_at=now))
        conv.turn += 1
        when = datetime.fromtimestamp(due, ZoneInfo(timezone))
        scheduled = engine.compose.say("common/remind_set.j2", conv, kind=kind.id, when=when)
        turn = engine._with_current(conv, scheduled, applied=True)
        consent = Consent(conv.channel, conv.user_id, records.REMINDERS,
                          self.consent_version(flow), now)
        turn.effects += [SaveConsent(consent),
                         RecordEvent(records.FOLLOWUP_SCHEDULED, flow.id, kind.id)]
        return turn

    async def _stop(self, store: ConversationStore, conv: Conversation) -> Turn:
        if conv.pending == self.PENDING:
            conv.pending = ""
        stopped = await store.cancel_followups(conv.channel, conv.user_id, "stopped")
        await store.withdraw_consent(conv.channel, conv.user_id, records.REMINDERS,
                                     self.engine.clock())
        conv.turn += 1
        said = self.engine.compose.say("common/remind_stopped.j2", conv, stopped=stopped)
        return self.engine._with_current(conv, said, applied=True)

    async def _cannot_remind(self, store: ConversationStore, conv: Conversation) -> str:
        """Why no follow-up can be offered now ("" when one can): this chat cannot be reached
        later, no screening result to follow, a red flag (a doctor first), or the cap."""
        if conv.channel not in self.engine.followup_channels():
            return "channel"
        outcome = conv.last_outcome or {}
        if not outcome:
            return "no_screening"
        if outcome.get("red_flag") or outcome.get("unsure_flags"):  # a doctor first
            return "red_flag"
        flow, spec = self._screening(conv)
        if flow is None or spec is None:
            return "not_offered"
        kept = [f for f in await store.followups(conv.channel, conv.user_id)
                if f.status in (PENDING, SENT)]
        return "cap" if len(kept) >= spec.max_per_person else ""

    def _as_screened(self, conv: Conversation, flow: Flow) -> Conversation:
        """The conversation as the screening left it, from the answers kept with its result
        (the person may have moved on since, to a contact request or a check-in)."""
        if "baseline_at" in conv.facts:  # at a check-in: keep the screening's starting point
            return conv
        outcome = conv.last_outcome or {}
        screened = Conversation(conv.channel, conv.user_id, flow=flow.id,
                                last_outcome=outcome)
        for state_id, value, typed in outcome.get("answers") or ():
            state = flow.states.get(state_id)
            answer = Answer(state_id, tuple(value) if isinstance(value, list) else value, typed)
            if state is not None:
                screened.history.append(answer)
                self.engine._record(screened, state, answer.value, typed)
        return screened

    def _screening(self, conv: Conversation) -> tuple[Flow | None, FollowupSpec | None]:
        """The flow of the person's last screening result, and its follow-ups."""
        flow = self.engine.flows.get(str((conv.last_outcome or {}).get("flow", "")))
        return flow, flow.followups if flow else None

    def consent_version(self, flow: Flow) -> str:
        """The declared version of the offer's words (bump it when the template changes)."""
        return flow.followups.consent_version if flow.followups else ""

    # -- firing one ---------------------------------------------------------------------------

    async def fire(self, followup_id: int) -> bool:
        """Send a due follow-up, once: under the person's lock the row is read again, and the
        check-in's first question is queued in the same transaction that marks it sent. One
        due in quiet hours waits for their end; one due while the person is busy in the chat
        is put off (and given up after a few tries). True when it was sent."""
        engine = self.engine
        found = await engine.store.followup(followup_id)
        if found is None or found.status != PENDING:
            return False
        address = Address(found.channel, found.user_id)
        async with (
            engine._conversation_lock(found.channel, found.user_id),
            engine.store.turn(found.channel, found.user_id) as store,
        ):
            followup = await store.followup(followup_id)
            now = engine.clock()
            if followup is None or followup.status != PENDING or followup.due_at > now:
                return False
            conv = (await store.load(found.channel, found.user_id)
                    or Conversation(found.channel, found.user_id))
            if not await self._ready(store, conv, followup, now):
                return False
            await self._begin_checkin(store, conv, followup, address, now)
        if not await engine.flush(address):
            engine.deliveries.wake()
        return True

    async def _ready(self, store: ConversationStore, conv: Conversation, followup: Followup,
                     now: float) -> bool:
        """Whether it goes now; otherwise the row is moved on (later, or given up)."""
        settings = self.engine.settings.followups
        flow = self.engine.flows.get(followup.flow)
        kind = flow.followups.kinds.get(followup.kind) if flow and flow.followups else None
        if flow is None or kind is None or kind.start not in flow.states:
            await store.update_followup(followup.id, SKIPPED, followup.due_at, followup.attempt,
                                        "not in the flow any more")
            return False
        timezone = followup.timezone or settings.timezone
        later = quiet_until(now, timezone, settings.quiet_window())
        if later > now:
            await store.update_followup(followup.id, PENDING, later, followup.attempt)
            return False
        if self._busy(conv, now):
            tries = followup.attempt + 1
            if tries >= BUSY_TRIES:
                await store.update_followup(followup.id, SKIPPED, followup.due_at, tries, "busy")
            else:
                at = quiet_until(now + BUSY_DELAY, timezone, settings.quiet_window())
                await store.update_followup(followup.id, PENDING, at, tries)
            return False
        return True

    def _busy(self, conv: Conversation, now: float) -> bool:
        """In the middle of something lately (a question, a confirmation, a staff chat)."""
        state = self.engine._state(conv)
        midway = (state is not None and not state.final) or bool(conv.pending) or conv.relay
        return midway and now - conv.updated_at < BUSY_WINDOW

    async def _begin_checkin(self, store: ConversationStore, conv: Conversation,
                             followup: Followup, address: Address, now: float) -> None:
        engine = self.engine
        flow = engine.flows[followup.flow]
        kind = flow.followups.kinds[followup.kind]  # type: ignore[union-attr]
        conv.begin(flow.id, kind.start, now=now)
        conv.facts.update(followup.baseline)
        conv.facts["followup_id"] = followup.id
        conv.turn += 1
        effects = engine._settle(conv)
        messages = [engine.compose.say(kind.template, conv), engine._state_message(conv)]
        effects += engine._act(conv)
        await store.save(conv, now)
        await store.save_booking_ref(conv.booking_ref, conv.channel, conv.user_id, flow.id, now)
        for message in messages:
            await store.enqueue(address, conv.turn, message, now)
        await store.update_followup(followup.id, SENT, followup.due_at, followup.attempt + 1)
        effects.append(RecordEvent(records.FOLLOWUP_SENT, flow.id, kind.id))
        notices = await engine._store_effects(store, conv, effects)
        await engine._queue_for_staff(store, notices)

    # -- the check-in's result ----------------------------------------------------------------

    def progress(self, conv: Conversation, flow: Flow) -> list[Effect]:
        """At a check-in's result: the change since the screening, kept with the follow-up, on
        the person's last outcome and in a staff notice."""
        spec = flow.followups
        if spec is None:
            return []
        progress = progress_of(spec, conv.facts)
        outcome = dict(conv.last_outcome or {})
        conv.last_outcome = {**outcome, "progress": progress} if outcome else None
        text = self.engine.compose.render("staff/checkin.j2", conv, progress=progress,
                                          outcome=outcome)
        effects: list[Effect] = [RecordEvent(records.CHECKIN_FINISHED, flow.id),
                                 StaffNotice(CHECKIN_NOTICE, conv.channel, conv.user_id, text)]
        followup_id = conv.facts.get("followup_id")
        if isinstance(followup_id, int):
            effects.insert(0, SaveProgress(followup_id, progress))
        return effects

