"""Decisions about the person rather than their answers: forgetting them, showing and
withdrawing what is stored, talking with staff, and a call booked with the practice. Pure:
what the store holds is read by the turn runner and passed in."""

from __future__ import annotations

from bot.core import records
from bot.core.conversation import Conversation
from bot.core.decision import NEEDS_STORED, Decision, Known
from bot.core.effects import (
    FORGOTTEN_NOTICE,
    CancelFollowups,
    Effect,
    Forget,
    RecordEvent,
    StaffNotice,
    WithdrawConsents,
)
from bot.core.events import DANGER, Choice, Message
from bot.core.records import StoredData
from bot.engine.flow import Option
from bot.engine.matching import match_option
from bot.engine.privacy import describe, is_empty
from bot.engine.stepper import Stepper

FORGET_YES, FORGET_NO = "forget_yes", "forget_no"
FORGET_PENDING = "forget"
STAFF_DONE = "/done"
MYDATA, WITHDRAW = "mydata", "withdraw"  # commands that read or change what the store keeps
CONSENT_WITHDRAWN = "consent_withdrawn"
BOOKED_NOTICE = "booked"
BOOKING_TEMPLATES = {
    records.BOOKED: "common/booked.j2",
    records.BOOKING_CANCELLED: "common/booking_cancelled.j2",
    records.BOOKING_RESCHEDULED: "common/booking_rescheduled.j2",
}


class Personal:
    """Forget, /mydata and /withdraw, staff relays, bookings (see the module docstring)."""

    def __init__(self, stepper: Stepper, has_staff: bool, alerted: bool = False) -> None:
        self.stepper = stepper
        self.compose = stepper.compose
        self.has_staff = has_staff  # some staff place is configured: a request reaches someone
        self.alerted = alerted  # alerts by email or webhook: heard, but answered elsewhere

    # -- forget -------------------------------------------------------------------------------

    def ask_forget(self, conv: Conversation) -> Decision:
        conv.pending = FORGET_PENDING
        conv.turn += 1
        labels = self.compose.labels(conv)
        choices = (Choice(FORGET_YES, labels.forget_yes, style=DANGER),
                   Choice(FORGET_NO, labels.forget_no))
        text = self.compose.render("common/forget_confirm.j2", conv)
        return Decision([Message(text, choices)], applied=True)

    def typed_forget(self, conv: Conversation, text: str) -> Decision:
        labels = self.compose.labels(conv)
        yes_words = ("yes", "y", "yes please", "delete", "delete everything")
        options = (
            Option(FORGET_YES, labels.forget_yes, "", synonyms=yes_words),
            Option(FORGET_NO, labels.forget_no, "", synonyms=("no", "n", "keep", "cancel")),
        )
        option = match_option(text, options)
        if option is None:
            conv.pending = ""
            return self.ask_forget(conv)
        return self.answer_forget(conv, option.id == FORGET_YES)

    def answer_forget(self, conv: Conversation, confirmed: bool) -> Decision:
        conv.pending = ""
        if confirmed:
            # No "chat ended" notice: it would be a new record of the person after the delete;
            # the `forgotten` notice blanks the chat's notices instead.
            done = self.compose.say("common/forgotten.j2", conv)
            return Decision([done], applied=True, forgotten=True, effects=[Forget()])
        conv.turn += 1
        kept = self.compose.say("common/kept.j2", conv)
        return self.stepper.with_current(conv, kept, applied=True)

    def forgotten_notice(self, earlier: list[tuple[str, str]]) -> StaffNotice:
        """Asks staff places to blank the `earlier` notices about a forgotten person. It names
        nobody (no channel, no user id): it may wait in the outbox after the forget."""
        text = self.compose.render("staff/forgotten.j2", Conversation("", ""))
        return StaffNotice(FORGOTTEN_NOTICE, "", "", text, redact=tuple(earlier))

    # -- what is stored: see it, withdraw consent ---------------------------------------------

    @staticmethod
    def asked(what: str) -> Decision:
        """/mydata or /withdraw: finished once what is stored about the person is read."""
        return Decision(applied=what == WITHDRAW, needs=NEEDS_STORED, privacy=what)

    def privacy(self, conv: Conversation, decision: Decision, known: Known) -> Decision:
        """/mydata shows everything stored; /withdraw takes back every consent and deletes the
        contact details it covered. Either way the person keeps their place."""
        assert isinstance(known.stored, StoredData)
        stored = describe(known.stored, self.stepper.flows)
        if decision.privacy == MYDATA:
            shown = self.compose.say("common/mydata.j2", conv, data=stored,
                                     nothing=is_empty(stored))
            return self.stepper.with_current(conv, shown)
        standing = [c for c in stored["consents"] if c["withdrawn_at"] is None]
        form_open = self._close_contact_form(conv)
        if not standing and not stored["leads"] and not form_open:
            nothing = self.compose.say("common/withdrawn.j2", conv, withdrawn=False)
            return self.stepper.with_current(conv, nothing)
        said = self.compose.say("common/withdrawn.j2", conv, withdrawn=True)
        done = self.stepper.with_current(conv, said, applied=True)
        done.effects += [WithdrawConsents(delete_leads=True), CancelFollowups("withdrawn")]
        asked_at = sorted({lead["at"] for lead in stored["leads"]}
                          | {consent["given_at"] for consent in standing})
        if asked_at:  # staff heard of them (a form left half-filled never reached staff)
            done.effects.append(self.compose.staff_notice(
                CONSENT_WITHDRAWN, "staff/consent_withdrawn.j2", conv, asked_at=asked_at))
        return done

    def _close_contact_form(self, conv: Conversation) -> bool:
        """A withdraw in the middle of a contact form (consent given, details half typed):
        the form ends and what was typed into it leaves the conversation. True if one was
        open."""
        flow = self.stepper.flows.get(conv.flow or "")
        state = self.stepper.state(conv)
        if flow is None or not flow.lead or state is None or state.final:
            return False
        conv.flow, conv.state = None, ""
        conv.clear_answers()
        return True

    # -- talking with staff -------------------------------------------------------------------

    def talk(self, conv: Conversation) -> Decision:
        if not self.has_staff and self.alerted:  # staff hear of it, but cannot answer here
            heard = self.compose.say("common/talk_alerted.j2", conv)
            decision = self.stepper.with_current(conv, heard, applied=True)
            decision.effects += self._talk_request(conv)
            return decision
        if not self.has_staff:  # nobody to tell: promise nothing
            unavailable = self.compose.say("common/talk_unavailable.j2", conv)
            return self.stepper.with_current(conv, unavailable)
        already = conv.relay
        conv.relay = True
        reply = self.compose.say("common/talk_requested.j2", conv, already=already)
        if already:
            return Decision([reply])
        return Decision([reply], applied=True, effects=self._talk_request(conv))

    def _talk_request(self, conv: Conversation) -> list[Effect]:
        return [
            RecordEvent(records.TALK_REQUEST, conv.credited_flow),
            self.compose.staff_notice("talk_request", "staff/talk_request.j2", conv,
                                      outcome=conv.last_outcome or {},
                                      in_chat=self.has_staff),
        ]

    def to_staff(self, conv: Conversation, text: str) -> Decision:
        relayed = self.compose.render("staff/relay_message.j2", conv, text=text)
        return Decision(effects=[StaffNotice("relay_message", conv.channel, conv.user_id,
                                             relayed)])

    def from_staff(self, conv: Conversation, text: str) -> Decision:
        if text.strip().lower() == STAFF_DONE:
            effects = self.end_relay(conv)
            ended = self.compose.say("common/relay_ended.j2", conv)
            return Decision([ended], applied=True, effects=effects)
        return Decision([self.compose.say("common/staff_message.j2", conv, text=text)])

    def end_relay(self, conv: Conversation) -> list[Effect]:
        if not conv.relay:
            return []
        conv.relay = False
        text = self.compose.render("staff/relay_ended.j2", conv)
        return [StaffNotice("relay_ended", conv.channel, conv.user_id, text)]

    # -- a call booked with the practice ------------------------------------------------------

    def booked(self, conv: Conversation, kind: str, flow: str, provider: str) -> Decision:
        """A call booked, cancelled or moved (a provider's webhook): a short message to the
        person, the funnel event against the screening's flow, a notice to staff."""
        effects: list[Effect] = [RecordEvent(kind, flow, provider)]
        if kind == records.BOOKED:  # the call is the next step: no more check-ins
            effects.append(CancelFollowups("booked"))
        effects.append(self.compose.staff_notice(
            BOOKED_NOTICE, "staff/booked.j2", conv, event_kind=kind,
            booking_provider=provider, outcome=conv.last_outcome or {}))
        message = self.compose.say(BOOKING_TEMPLATES[kind], conv)
        return Decision([message], effects=effects)
