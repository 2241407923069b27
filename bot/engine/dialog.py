"""The dialog: decides what one event means for one conversation, and nothing else.

Synchronous and without I/O: (conversation, event, what is known) -> a Decision (the
conversation is changed in place; the messages; the effects for the runner to carry out).
The turn runner (bot/turns) loads, saves and sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.conversation import Conversation, new_booking_ref
from bot.core.decision import NEEDS_FOLLOWUPS, NEEDS_STORED, Decision, Known
from bot.core.effects import DropUndelivered
from bot.core.events import Event, EventKind, Message
from bot.core.records import Followup
from bot.engine import confirm, understand
from bot.engine.commands import Command, Commands
from bot.engine.compose import Composer, red_flag_on_record
from bot.engine.flow import DONE_CHOICE, Flow, Option, State
from bot.engine.followups import known_timezone
from bot.engine.inputs import parse_input
from bot.engine.matching import MAX_MATCH_LENGTH, match_option, normalize
from bot.engine.personal import FORGET_NO, FORGET_PENDING, FORGET_YES, MYDATA, WITHDRAW, Personal
from bot.engine.privacy import consent_version
from bot.engine.reask import reask
from bot.engine.reminders import Reminders
from bot.engine.render import Renderer
from bot.engine.restarting import RESTART_NO, RESTART_YES, Restarts
from bot.engine.stepper import Stepper, is_screening
from bot.settings import Settings

COMMAND = "command"  # a reading that is a command asked for in words
LATE_WINDOW = 86400.0  # seconds an out-of-order update can still arrive (see _arrived_late)


@dataclass(frozen=True)
class Reach:
    """Which channels and staff places a decision can count on (from the channel registry and
    the settings, fixed at start): where a later message can arrive (check-ins), and whether
    any staff place is configured (a "talk to a person" reaches someone)."""

    later: frozenset[str] = frozenset()
    staff: bool = False
    alerts: bool = False  # email or webhook alerts: a request is heard, though not answered here


class Dialog:
    """Decides every conversation's turns (see the module docstring)."""

    def __init__(self, flows: dict[str, Flow], renderer: Renderer, settings: Settings,
                 commands: Commands, reach: Reach = Reach()) -> None:
        self.flows = flows
        self.renderer = renderer
        self.settings = settings
        self.commands = commands
        self.reach = reach
        self.compose = Composer(flows, renderer, settings, commands)
        self.consent_versions = {fid: consent_version(renderer, f) for fid, f in flows.items()}
        self.stepper = Stepper(flows, self.compose, self.consent_versions)
        self.reminders = Reminders(self.stepper, settings.followups, reach.later)
        self.personal = Personal(self.stepper, reach.staff, reach.alerts)
        self.restarts = Restarts(self.stepper)

    # -- the entry points -----------------------------------------------------------------------

    def decide(self, conv: Conversation, event: Event, known: Known) -> Decision:
        """What the event means; when `needs` is set, call `finish` with it read."""
        if event.timezone and known_timezone(event.timezone):
            conv.timezone = event.timezone  # before a check-in is scheduled in this turn
        if not conv.booking_ref:  # booking links name a reference, even outside a screening
            conv.booking_ref = new_booking_ref()
        if self._arrived_late(conv, event, known.now):
            decision = self._late(conv)
        elif event.kind is EventKind.TEXT and known.undelivered:
            decision = self._show_again(conv)
            decision.effects.insert(0, DropUndelivered())
        else:
            decision = self._dispatch(conv, event, known.now)
        if event.sequence and not decision.stale:
            conv.last_sequence = event.sequence
        return decision

    def finish(self, conv: Conversation, decision: Decision, known: Known) -> Decision:
        """A decision that needed the store read, finished with what was read."""
        if decision.needs == NEEDS_FOLLOWUPS:
            return self.reminders.decide(conv, decision, known)
        if decision.needs == NEEDS_STORED:
            return self.personal.privacy(conv, decision, known)
        return decision

    def checkin(self, conv: Conversation, followup: Followup, now: float) -> Decision:
        """A due follow-up: its check-in's first messages, or the row moved on."""
        return self.reminders.checkin(conv, followup, now)

    def booked(self, conv: Conversation, kind: str, flow: str, provider: str) -> Decision:
        """A call booked, cancelled or moved with the practice."""
        return self.personal.booked(conv, kind, flow, provider)

    def notice(self, template: str, channel: str = "", **extra: object) -> str:
        """Light-markup text of a template outside any conversation (channel notices)."""
        return self.compose.render(template, Conversation(channel, ""), **extra)

    def expects_text(self, conv: Conversation) -> bool:
        """The current question is answered by typing (a number, a name, an email)."""
        state = self.stepper.state(conv)
        return state is not None and state.input is not None and not conv.pending

    def asks_again(self, conv: Conversation) -> bool:
        """A question of the dialog's own that a reloaded page asks again (delete everything?);
        a "Did you mean" is not: the page shows the question, which answers it too."""
        return conv.pending == FORGET_PENDING

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, conv: Conversation, event: Event, now: float) -> Decision:
        if (confirm.asking(conv) or Restarts.asking(conv)) and \
                event.kind not in (EventKind.TEXT, EventKind.PRESS):
            conv.pending = ""  # a command instead: "Did you mean", "Start over?" no longer asked
        if event.kind is EventKind.COMMAND:
            return self._command(conv, event.command, now, event.argument)
        if event.kind is EventKind.PRESS:
            return self._press(conv, event, now)
        if event.kind is EventKind.STAFF:
            return self.personal.from_staff(conv, event.text)
        if event.kind is EventKind.UNSUPPORTED:
            unsupported = self.compose.say("common/unsupported.j2", conv)
            return self.stepper.with_current(conv, unsupported)
        if conv.relay:
            return self.personal.to_staff(conv, event.text)
        return self._text(conv, event.text, now)

    def _command(self, conv: Conversation, name: str, now: float, argument: str = "") -> Decision:
        command = self.commands.get(name)
        if command is None:
            unknown = self.compose.say("common/unknown_command.j2", conv, name=name.lower())
            return self.stepper.with_current(conv, unknown)
        if command.action == "flow" and self._unfinished(conv, command.flow):
            return self.stepper.with_current(conv, self.compose.say("common/resumed.j2", conv))
        if command.action == "flow":
            return self.stepper.start(conv, command.flow, now, source=argument)
        if command.action in ("start", "restart"):
            return self._start_command(conv, command.action, argument, now)
        if command.action == "back":
            return self._back(conv)
        if command.action == "stop_reminders" or (
                command.action == "stop" and normalize(argument) in Reminders.STOP_WORDS):
            return Reminders.asked(Reminders.STOP)
        if command.action == "stop":
            return self._cancel(conv)
        if command.action == "forget":
            return self.personal.ask_forget(conv)
        if command.action == "talk":
            return self.personal.talk(conv)
        if command.action in (MYDATA, WITHDRAW):
            return Personal.asked(command.action)
        if command.action == "remind":
            return Reminders.asked(Reminders.OFFER)
        return self._info(conv, command)

    def _info(self, conv: Conversation, command: Command) -> Decision:
        """help, about, book...: a message (and its link) while the person keeps their place."""
        if command.link == "book" and self.stepper.after_red_flag(conv):
            return Decision([self.stepper.state_message(conv)])  # the advice, never a booking
        if command.link == "book" and red_flag_on_record(conv):
            refused = self.compose.say("common/book_after_red_flag.j2", conv)
            return self.stepper.with_current(conv, refused)
        return self.stepper.with_current(conv, self.compose.info(conv, command.name,
                                                                 command.link))

    def _unfinished(self, conv: Conversation, flow_id: str) -> bool:
        """A flow command mid-flow resumes it; only `restart` starts it over."""
        state = self.stepper.state(conv)
        return conv.flow == flow_id and state is not None and not state.final

    def _start_command(self, conv: Conversation, action: str, argument: str,
                       now: float) -> Decision:
        payload = normalize(argument)
        command = self.commands.get(payload) if payload else None
        if command is not None and command.deep_link and command.action != "flow":
            conv.source = conv.source or payload
            return self._command(conv, payload, now)
        flow_id = command.flow if command is not None and command.deep_link else None
        if payload and flow_id is None:
            conv.source = conv.source or payload  # a campaign tag, e.g. ?start=instagram
        if flow_id is None and action == "start" and self._unfinished(conv, conv.flow or ""):
            flow_id = conv.flow  # a plain /start mid-way resumes; only restart starts over
        if flow_id is not None and self._unfinished(conv, flow_id):
            return self.stepper.with_current(conv, self.compose.say("common/resumed.j2", conv))
        if flow_id is None and action == "restart" and conv.flow in self.flows:
            # a screening starts over; a form (the contact request) gives way to the first one
            flow_id = conv.flow if is_screening(self.flows[conv.flow]) else None
        flow_id = flow_id or self.settings.default_flow
        if action == "restart" and self.restarts.would_lose_answers(conv):
            return self.restarts.ask(conv, flow_id)  # nothing is cleared without a yes
        return self.stepper.start(conv, flow_id, now, source=payload)

    def _press(self, conv: Conversation, event: Event, now: float) -> Decision:
        current = event.turn == conv.turn
        if conv.pending == FORGET_PENDING and event.choice_id in (FORGET_YES, FORGET_NO) \
                and current:
            return self.personal.answer_forget(conv, event.choice_id == FORGET_YES)
        if conv.pending == Reminders.PENDING and current:
            return self.reminders.pressed(conv, event.choice_id)
        if Restarts.asking(conv):
            if current and event.choice_id in (RESTART_YES, RESTART_NO):
                return self._restart_answered(conv, event.choice_id == RESTART_YES, now)
            conv.pending = ""  # any other press is no yes: read as itself, nothing cleared
        state = self.stepper.state(conv)
        if current and state and confirm.asking(conv):
            offered = {o.id: o for o in confirm.candidates(conv, self.typed_choices(conv, state))}
            if event.choice_id in offered or event.choice_id == confirm.NONE_OF_THESE:
                chosen = offered.get(event.choice_id, confirm.NONE_OF_THESE)
                return self._confirmed(conv, state, chosen, now)
            conv.pending = ""  # a button of the question itself: that answer
        if current and state and event.choice_id.lstrip("/") in state.commands:
            return self._command(conv, event.choice_id.lstrip("/"), now)
        if current and state and state.multi and event.choice_id == DONE_CHOICE:
            return self.stepper.finish_selection(conv, state, now)
        option = state.option(event.choice_id) if state and not conv.pending else None
        if state is None or option is None or not current:
            return self._stale(conv, event)
        if state.multi and not option.exclusive:
            return self.stepper.toggle(conv, state, option)
        return self.stepper.apply_option(conv, state, option, now)

    def _text(self, conv: Conversation, text: str, now: float) -> Decision:
        if conv.pending == FORGET_PENDING:
            return self.personal.typed_forget(conv, text)
        if Restarts.asking(conv):
            return self._restart_answered(conv, self.restarts.typed(conv, text), now)
        if conv.pending == Reminders.PENDING:
            picked = self.reminders.typed(conv, text)
            if picked is not None:
                return picked
        state = self.stepper.state(conv)
        if state is not None and confirm.asking(conv):
            offered = confirm.candidates(conv, self.typed_choices(conv, state))
            chosen = confirm.typed(state, text, offered)
            if chosen is not None:
                return self._confirmed(conv, state, chosen, now)
            conv.pending = ""  # not about the confirmation: an answer to the question
        if state is None:
            asked = self._command_in_text(text)
            return self._command(conv, asked.name if asked else "start", now)
        return self._answer(conv, state, text, now)

    def _answer(self, conv: Conversation, state: State, text: str, now: float) -> Decision:
        """A typed reply to the current question: a pick, several, a number, a typed value,
        a command, "did you mean"; or asked again."""
        if len(text) > MAX_MATCH_LENGTH:  # a story, not an answer: the question again
            return reask(self.stepper, conv, state, text, 0)
        reading = self.read(conv, state, text)
        if reading.problem == COMMAND:
            command = self._command_in_text(text)
            assert command is not None
            return self._command(conv, command.name, now)
        return self._reading(conv, state, reading, text, now)

    def read(self, conv: Conversation, state: State, text: str) -> understand.Reading:
        """What a typed reply means for the current question (bot/engine/understand.py): a
        typed name or address, a button's exact words, a command asked for ("back", "can I
        book a call?"), then everything else the reply may say."""
        if state.input is not None and state.input.type != "number":
            option = match_option(text, state.options)  # "never mind" before a name
            if option is not None:
                return understand.Reading(understand.OPTION, (option,))
            if self.commands.in_text(normalize(text), 0):  # "help" is asked for, not a name
                return understand.Reading(understand.NOTHING, problem=COMMAND)
            value = parse_input(state.input, text, self.settings.phone_region)
            if value is not None:
                return understand.Reading(understand.VALUE, value=value)
        choices = self.typed_choices(conv, state)
        exact = match_option(text, choices) if not state.input else None
        if exact is not None:
            return understand.Reading(understand.OPTION, (exact,))
        command = self._command_in_text(text)
        action = next((o for o in choices if command and o.id == f"/{command.name}"), None)
        if action is not None:  # "remind me" where "Remind me to check in" is offered
            return understand.Reading(understand.OPTION, (action,))
        if command is not None:
            return understand.Reading(understand.NOTHING, problem=COMMAND)
        return understand.read(state, text, choices)

    def _reading(self, conv: Conversation, state: State, reading: understand.Reading,
                 text: str, now: float) -> Decision:
        steps = self.stepper
        if reading.kind == understand.VALUE:
            return steps.apply_input(conv, state, reading.value, now)
        if reading.kind == understand.DONE:
            return steps.finish_selection(conv, state, now)
        if reading.kind == understand.SEVERAL:
            return steps.add_picks(conv, state, reading.options)
        if reading.kind == understand.OPTION:
            return self._chosen(conv, state, reading.option, now)
        if reading.kind == understand.CONFIRM:
            confirm.ask(conv, reading.options)
            return Decision([self.compose.confirm(conv, reading.options)])
        if state.final and state.red_flag:
            return Decision([steps.state_message(conv)])  # the advice again, never a booking
        if state.final:  # the result's actions stay on offer, by number or words
            finished = self.compose.short(conv, state, "common/finished.j2",
                                          offers_booking="book" in state.links)
            return Decision([finished])
        return reask(self.stepper, conv, state, text, len(self.typed_choices(conv, state)),
                     reading)

    def _chosen(self, conv: Conversation, state: State, option: Option,
                now: float) -> Decision:
        """A button chosen by typing: an answer, or one of the state's actions."""
        if option.id.startswith("/"):
            return self._command(conv, option.id.lstrip("/"), now)
        if state.multi and not option.exclusive:
            return self.stepper.add_picks(conv, state, (option,))
        return self.stepper.apply_option(conv, state, option, now)

    def typed_choices(self, conv: Conversation, state: State) -> tuple[Option, ...]:
        """The buttons shown, in their numbered order: the options, then the actions."""
        if not state.commands:
            return state.options
        labels = self.compose.labels(conv)
        actions = tuple(Option(f"/{name}", getattr(labels, name), "") for name in
                        state.commands)
        return (*state.options, *actions)

    def _confirmed(self, conv: Conversation, state: State, chosen: Option | str,
                   now: float) -> Decision:
        """The answer to "Did you mean ...?": that answer, or the question again."""
        conv.pending = ""
        if chosen == confirm.NONE_OF_THESE or not isinstance(chosen, Option):
            again = self.compose.say("common/confirm_none.j2", conv)
            return self.stepper.with_current(conv, again)
        return self._chosen(conv, state, chosen, now)

    def _restart_answered(self, conv: Conversation, yes: bool, now: float) -> Decision:
        """ "Start over?" answered: yes starts the flow again; anything else keeps every answer."""
        flow_id = Restarts.flow_asked(conv)
        conv.pending = ""
        if yes and flow_id in self.flows:
            return self.stepper.start(conv, flow_id, now)
        return self.restarts.kept(conv)

    def _command_in_text(self, text: str) -> Command | None:
        return self.commands.in_text(normalize(text), 4 * MAX_MATCH_LENGTH)

    # -- going back, stopping, and updates out of turn ----------------------------------------

    def _back(self, conv: Conversation) -> Decision:
        undone = self.stepper.back(conv)
        if undone is not None:
            return undone
        return self.stepper.with_current(conv, self.compose.say("common/nothing_to_undo.j2",
                                                                conv))

    def _cancel(self, conv: Conversation) -> Decision:
        was_in_flow = conv.flow is not None
        effects = self.personal.end_relay(conv)
        conv.flow, conv.state = None, ""
        conv.clear_answers()
        conv.turn += 1
        cancelled = self.compose.say("common/cancelled.j2", conv, was_in_flow=was_in_flow)
        return Decision([cancelled], applied=True, effects=effects)

    def _stale(self, conv: Conversation, event: Event) -> Decision:
        duplicate = event.turn == conv.turn - 1 and event.choice_id == conv.last_choice
        if duplicate:
            return Decision(stale=True)  # the same press arriving twice: already answered
        stale = self.compose.say("common/stale.j2", conv)
        return self.stepper.with_current(conv, stale, stale=True)

    @staticmethod
    def _arrived_late(conv: Conversation, event: Event, now: float) -> bool:
        """An update numbered before the last one applied for this person. Only within a day
        of that one: platforms resend for a day at most, and Telegram may number afresh after
        a quiet week."""
        recent = now - conv.updated_at < LATE_WINDOW
        return bool(event.sequence) and event.sequence < conv.last_sequence and recent

    def _late(self, conv: Conversation) -> Decision:
        """An update older than one already applied (it was delayed or resent): not applied."""
        late = self.compose.say("common/late.j2", conv)
        return self.stepper.with_current(conv, late, stale=True)

    def _show_again(self, conv: Conversation) -> Decision:
        """A typed answer while the last question is still on its way to the person: they have
        not seen it, so nothing is applied and the question is shown again."""
        missed = self.compose.say("common/undelivered.j2", conv)
        if conv.pending == FORGET_PENDING:
            conv.pending = ""
            asked = self.personal.ask_forget(conv)
            return Decision([missed, *asked.messages], stale=True, applied=True)
        state = self.stepper.state(conv)
        messages: list[Message] = [missed] if state is None else [
            missed, self.stepper.state_message(conv)]
        return Decision(messages, stale=True)
