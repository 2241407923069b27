"""The dialog's follow-ups: offering a check-in after a result, scheduling it with the
person's yes, stopping it, and starting the check-in when it is due. Pure: what the store
holds (the person's follow-ups, the due row) is read by the turn runner and passed in.

Which follow-ups exist, their delays and words are declared per flow in YAML (`followups:`);
nothing here knows about knees.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core import records
from bot.core.conversation import Answer, Conversation
from bot.core.decision import NEEDS_FOLLOWUPS, Decision, Known
from bot.core.effects import (
    CancelFollowups,
    MoveFollowup,
    RecordEvent,
    SaveConsent,
    ScheduleFollowup,
    WithdrawConsents,
)
from bot.core.events import PRIMARY, Choice, Message
from bot.core.records import PENDING, SENT, SKIPPED, Consent, Followup
from bot.engine.flow import Flow, FollowupKind, FollowupSpec, Option
from bot.engine.followups import BUSY_DELAY, BUSY_TRIES, baseline_of, quiet_until
from bot.engine.matching import match_option
from bot.engine.stepper import Stepper
from bot.settings import Followups

CHOICE_PREFIX = "remind_"
NO_THANKS = CHOICE_PREFIX + "no"
BUSY_WINDOW = 1800.0  # seconds since their last message in which a person counts as busy


class Reminders:
    """Follow-ups for the dialog's conversations (see the module docstring)."""

    OFFER, STOP, PENDING = "offer", "stop", "remind"
    STOP_WORDS = ("reminders", "reminder", "the reminders", "follow ups", "followups")

    def __init__(self, stepper: Stepper, settings: Followups,
                 reachable_later: frozenset[str]) -> None:
        self.stepper = stepper
        self.compose = stepper.compose
        self.settings = settings
        self.reachable_later = reachable_later  # channels where a later message can arrive

    # -- asking for one ---------------------------------------------------------------------

    @classmethod
    def asked(cls, what: str) -> Decision:
        """A decision that needs the person's follow-ups read before it is finished."""
        return Decision(applied=what == cls.STOP, needs=NEEDS_FOLLOWUPS, reminders=what)

    def decide(self, conv: Conversation, decision: Decision, known: Known) -> Decision:
        """Finish a decision that offers, schedules or stops follow-ups."""
        followups = known.followups or ()
        if decision.reminders == self.STOP:
            return self._stop(conv, followups, known.now)
        why_not = self._cannot_remind(conv, followups)
        if why_not:
            conv.pending = ""
            unavailable = self.compose.say("common/remind_unavailable.j2", conv, reason=why_not)
            return self.stepper.with_current(conv, unavailable)
        flow, spec = self._screening(conv)
        assert flow is not None and spec is not None
        if decision.reminders == self.OFFER:
            return self._offer(conv, spec)
        return self._schedule(conv, flow, spec, spec.kinds[decision.reminders], known.now)

    def pressed(self, conv: Conversation, choice_id: str) -> Decision:
        """A press on the offer's buttons: a kind, or no thanks."""
        conv.pending = ""
        _, spec = self._screening(conv)
        kind = choice_id.removeprefix(CHOICE_PREFIX)
        if spec is not None and choice_id.startswith(CHOICE_PREFIX) and kind in spec.kinds:
            return self.asked(kind)
        return self._declined(conv)

    def typed(self, conv: Conversation, text: str) -> Decision | None:
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

    def _offer(self, conv: Conversation, spec: FollowupSpec) -> Decision:
        conv.pending = self.PENDING
        conv.turn += 1
        text = self.compose.render(spec.offer_template, conv)
        choices = tuple(Choice(o.id, o.label, style=PRIMARY if i == 0 else "")
                        for i, o in enumerate(self._options(conv, spec)))
        return Decision([Message(text, choices)], applied=True)

    def _options(self, conv: Conversation, spec: FollowupSpec) -> tuple[Option, ...]:
        labels = self.compose.labels(conv)
        kinds = tuple(Option(CHOICE_PREFIX + k.id, k.label, "", synonyms=k.synonyms)
                      for k in spec.kinds.values())
        no = Option(NO_THANKS, labels.remind_no, "",
                    synonyms=("no", "n", "no thanks", "nope", "not now", "never mind"))
        return (*kinds, no)

    def _declined(self, conv: Conversation) -> Decision:
        conv.turn += 1
        declined = self.compose.say("common/remind_declined.j2", conv)
        return self.stepper.with_current(conv, declined, applied=True)

    def _schedule(self, conv: Conversation, flow: Flow, spec: FollowupSpec,
                  kind: FollowupKind, now: float) -> Decision:
        """The person's yes: a durable timer, the consent it rests on, a funnel event."""
        timezone = conv.timezone or self.settings.timezone
        due = quiet_until(now + kind.delay, timezone, self.settings.quiet_window())
        baseline = baseline_of(flow, spec, self._as_screened(conv, flow))
        baseline.setdefault("baseline_at", now)
        followup = Followup(0, conv.channel, conv.user_id, flow.id, kind.id, due,
                            baseline=baseline, timezone=timezone, created_at=now)
        conv.turn += 1
        when = datetime.fromtimestamp(due, ZoneInfo(timezone))
        scheduled = self.compose.say("common/remind_set.j2", conv, kind=kind.id, when=when)
        decision = self.stepper.with_current(conv, scheduled, applied=True)
        consent = Consent(conv.channel, conv.user_id, records.REMINDERS,
                          self.consent_version(flow), now)
        decision.effects += [ScheduleFollowup(followup), SaveConsent(consent),
                             RecordEvent(records.FOLLOWUP_SCHEDULED, flow.id, kind.id)]
        return decision

    def _stop(self, conv: Conversation, followups: tuple[Followup, ...], now: float) -> Decision:
        if conv.pending == self.PENDING:
            conv.pending = ""
        stopped = sum(f.status == PENDING for f in followups)
        conv.turn += 1
        said = self.compose.say("common/remind_stopped.j2", conv, stopped=stopped)
        decision = self.stepper.with_current(conv, said, applied=True)
        decision.effects += [CancelFollowups("stopped"),
                             WithdrawConsents(kind=records.REMINDERS)]
        return decision

    def _cannot_remind(self, conv: Conversation, followups: tuple[Followup, ...]) -> str:
        """Why no follow-up can be offered now ("" when one can): this chat cannot be reached
        later, no screening result to follow, a red flag (a doctor first), or the cap."""
        if conv.channel not in self.reachable_later:
            return "channel"
        outcome = conv.last_outcome or {}
        if not outcome:
            return "no_screening"
        if outcome.get("red_flag") or outcome.get("unsure_flags"):  # a doctor first
            return "red_flag"
        flow, spec = self._screening(conv)
        if flow is None or spec is None:
            return "not_offered"
        kept = [f for f in followups if f.status in (PENDING, SENT)]
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
                self.stepper.record(screened, state, answer.value, typed)
        return screened

    def _screening(self, conv: Conversation) -> tuple[Flow | None, FollowupSpec | None]:
        """The flow of the person's last screening result, and its follow-ups."""
        flow = self.stepper.flows.get(str((conv.last_outcome or {}).get("flow", "")))
        return flow, flow.followups if flow else None

    @staticmethod
    def consent_version(flow: Flow) -> str:
        """The declared version of the offer's words (bump it when the template changes)."""
        return flow.followups.consent_version if flow.followups else ""

    # -- firing one ---------------------------------------------------------------------------

    def checkin(self, conv: Conversation, followup: Followup, now: float) -> Decision:
        """A due follow-up: the check-in's first messages, or (no messages) the row moved on:
        later after quiet hours, put off while the person is busy, or given up."""
        flow = self.stepper.flows.get(followup.flow)
        kind = flow.followups.kinds.get(followup.kind) if flow and flow.followups else None
        if flow is None or kind is None or kind.start not in flow.states:
            return _moved(followup, SKIPPED, followup.due_at, followup.attempt,
                          "not in the flow any more")
        timezone = followup.timezone or self.settings.timezone
        later = quiet_until(now, timezone, self.settings.quiet_window())
        if later > now:
            return _moved(followup, PENDING, later, followup.attempt)
        if self._busy(conv, now):
            tries = followup.attempt + 1
            if tries >= BUSY_TRIES:
                return _moved(followup, SKIPPED, followup.due_at, tries, "busy")
            at = quiet_until(now + BUSY_DELAY, timezone, self.settings.quiet_window())
            return _moved(followup, PENDING, at, tries)
        return self._begin_checkin(conv, flow, kind, followup, now)

    def _busy(self, conv: Conversation, now: float) -> bool:
        """In the middle of something lately (a question, a confirmation, a staff chat)."""
        state = self.stepper.state(conv)
        midway = (state is not None and not state.final) or bool(conv.pending) or conv.relay
        return midway and now - conv.updated_at < BUSY_WINDOW

    def _begin_checkin(self, conv: Conversation, flow: Flow, kind: FollowupKind,
                       followup: Followup, now: float) -> Decision:
        # Not a new screening: counted as a check-in, its bookings credited to the screening
        conv.begin(flow.id, kind.start, now=now, screening=False)
        conv.facts.update(followup.baseline)
        conv.facts["followup_id"] = followup.id
        conv.turn += 1
        effects = self.stepper.settle(conv)
        messages = [self.compose.say(kind.template, conv), self.stepper.state_message(conv)]
        effects += self.stepper.act(conv, now)
        effects += [MoveFollowup(followup.id, SENT, followup.due_at, followup.attempt + 1),
                    RecordEvent(records.FOLLOWUP_SENT, flow.id, kind.id)]
        return Decision(messages, applied=True, effects=effects)


def _moved(followup: Followup, status: str, due_at: float, attempt: int,
           reason: str = "") -> Decision:
    return Decision(effects=[MoveFollowup(followup.id, status, due_at, attempt, reason)])
