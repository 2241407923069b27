"""The dialog engine: one Event in, one Reply out, state saved after every turn."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from bot.engine.conversation import Answer, Conversation
from bot.engine.events import Choice, Event, EventKind, Link, Message, Outcome, Reply
from bot.engine.flow import INPUT_TRIGGER, ROUTE_TRIGGER, Flow, Option, State, build_machine
from bot.engine.markup import plain
from bot.engine.matching import (
    command_in_text,
    match_option,
    match_option_loosely,
    normalize,
    parse_number,
)
from bot.engine.render import Renderer
from bot.engine.scoring import rank_drivers, top_drivers
from bot.handoff.booking import booking_link
from bot.settings import Settings
from bot.store.base import ConversationStore

COMMANDS = (
    "start",
    "restart",
    "back",
    "cancel",
    "help",
    "book",
    "youtube",
    "podcast",
    "about",
    "forget",
)
LINK_COMMANDS = ("book", "youtube", "podcast")
FORGET_YES, FORGET_NO = "forget_yes", "forget_no"
MAX_ROUTE_STEPS = 50
IDLE = "idle"
FORGOTTEN = "forgotten"


@dataclass(slots=True)
class _Turn:
    """What one event produced, before it becomes a Reply."""

    messages: list[Message] = field(default_factory=list)
    stale: bool = False
    applied: bool = False
    answered: str = ""
    forgotten: bool = False


class Engine:
    """Runs flows for every conversation; platform-neutral, one event at a time per person."""

    def __init__(
        self,
        flows: dict[str, Flow],
        renderer: Renderer,
        store: ConversationStore,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.flows = flows
        self.renderer = renderer
        self.store = store
        self.settings = settings
        self.clock = clock
        self.machines: dict[str, Machine] = {fid: build_machine(f) for fid, f in flows.items()}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._waiting: dict[tuple[str, str], int] = {}

    # -- the one entry point ------------------------------------------------------------------

    async def handle(self, event: Event) -> Reply:
        """Process one event for its conversation and return what to say."""
        async with self._conversation_lock(event.channel, event.user_id):
            conversation = await self.store.load(event.channel, event.user_id)
            conversation = conversation or Conversation(event.channel, event.user_id)
            turn = self._dispatch(conversation, event)
            if turn.forgotten:
                await self.store.delete(event.channel, event.user_id)
            else:
                await self.store.save(conversation)
            return Reply(
                messages=tuple(turn.messages),
                turn=conversation.turn,
                state=FORGOTTEN if turn.forgotten else (conversation.state or IDLE),
                flow=conversation.flow,
                stale=turn.stale,
                applied=turn.applied,
                extras={"answered": turn.answered} if turn.answered else {},
            )

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

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, conv: Conversation, event: Event) -> _Turn:
        if event.kind is EventKind.COMMAND:
            return self._command(conv, event.command, event.argument)
        if event.kind is EventKind.PRESS:
            return self._press(conv, event)
        if event.kind is EventKind.UNSUPPORTED:
            return self._with_current(conv, self._say("common/unsupported.j2", conv))
        return self._text(conv, event.text)

    def _command(self, conv: Conversation, name: str, argument: str = "") -> _Turn:
        name = name.lower()
        if name in self.flows:
            return self._start(conv, name, source=argument)
        if name in ("start", "restart"):
            return self._start_command(conv, name, argument)
        if name == "back":
            return self._back(conv)
        if name == "cancel":
            return self._cancel(conv)
        if name == "forget":
            return self._ask_forget(conv)
        if name in ("help", "about", *LINK_COMMANDS):
            return self._with_current(conv, self._info(conv, name))
        return self._with_current(conv, self._say("common/unknown_command.j2", conv, name=name))

    def _start_command(self, conv: Conversation, name: str, argument: str) -> _Turn:
        payload = normalize(argument)
        if payload and payload not in self.flows:
            conv.source = conv.source or payload
            if payload in LINK_COMMANDS or payload in ("help", "about"):
                return self._with_current(conv, self._info(conv, payload))
        flow_id = payload if payload in self.flows else None
        if flow_id is None and name == "restart" and conv.flow:
            flow_id = conv.flow
        return self._start(conv, flow_id or self.settings.default_flow, source=payload)

    def _press(self, conv: Conversation, event: Event) -> _Turn:
        forget_answer = event.choice_id in (FORGET_YES, FORGET_NO)
        if conv.pending == "forget" and forget_answer and event.turn == conv.turn:
            return self._answer_forget(conv, event.choice_id == FORGET_YES)
        state = self._state(conv)
        option = state.option(event.choice_id) if state and not conv.pending else None
        if option is None or event.turn != conv.turn:
            return self._stale(conv, event)
        return self._apply_option(conv, state, option)

    def _text(self, conv: Conversation, text: str) -> _Turn:
        if conv.pending == "forget":
            return self._text_for_forget(conv, text)
        state = self._state(conv)
        if state is None:
            command = command_in_text(text)
            if command:
                return self._command(conv, command)
            return self._start(conv, self.settings.default_flow)
        option = match_option(text, state.options)
        if option is not None:
            return self._apply_option(conv, state, option)
        if state.input is not None and (value := self._typed_value(state, text)) is not None:
            return self._apply_input(conv, state, value)
        command = command_in_text(text)
        if command:
            return self._command(conv, command)
        option = match_option_loosely(text, state.options)
        if option is not None:
            return self._apply_option(conv, state, option)
        if state.final:
            return _Turn([self._say("common/finished.j2", conv)])
        reask = self._say(
            "common/reask.j2", conv, too_long=len(text) > 500, has_input=state.input is not None
        )
        return self._with_current(conv, reask)

    # -- moving through a flow ----------------------------------------------------------------

    def _start(self, conv: Conversation, flow_id: str, source: str = "") -> _Turn:
        flow = self.flows[flow_id]
        conv.begin(flow_id, flow.start, now=self.clock())
        if source:
            conv.source = source
        conv.turn += 1
        self._settle(conv)
        return _Turn([self._state_message(conv)], applied=True)

    def _apply_option(self, conv: Conversation, state: State, option: Option) -> _Turn:
        conv.history.append(Answer(state.id, option.id))
        _record(conv, state, option.id, typed=False)
        conv.last_choice = option.id
        self.machines[conv.flow].events[option.id].trigger(conv)
        return self._advance(conv, answered=option.label)

    def _apply_input(self, conv: Conversation, state: State, value: Any) -> _Turn:
        conv.history.append(Answer(state.id, value, typed=True))
        _record(conv, state, value, typed=True)
        conv.last_choice = ""
        self.machines[conv.flow].events[INPUT_TRIGGER].trigger(conv)
        return self._advance(conv, answered=str(value))

    def _advance(self, conv: Conversation, answered: str) -> _Turn:
        conv.turn += 1
        self._settle(conv)
        return _Turn([self._state_message(conv)], applied=True, answered=answered)

    def _settle(self, conv: Conversation) -> None:
        """Follow routing states to the next question; mark final states finished."""
        machine = self.machines[conv.flow]
        for _ in range(MAX_ROUTE_STEPS):
            state = self._state(conv)
            if state is None or not state.route:
                break
            machine.events[ROUTE_TRIGGER].trigger(conv)
        state = self._state(conv)
        conv.finished = bool(state and state.final)

    def _typed_value(self, state: State, text: str) -> Any:
        spec = state.input
        assert spec is not None
        if spec.type == "number":
            number = parse_number(text)
            if number is None:
                return None
            if (spec.minimum is not None and number < spec.minimum) or (
                spec.maximum is not None and number > spec.maximum
            ):
                return None
            return int(number) if number.is_integer() else number
        cleaned = " ".join(text.split())
        return cleaned if 0 < len(cleaned) <= spec.max_length else None

    def _back(self, conv: Conversation) -> _Turn:
        if conv.pending or not conv.history or conv.flow not in self.flows:
            return self._with_current(conv, self._say("common/nothing_to_undo.j2", conv))
        undone = conv.history.pop()
        conv.state, conv.finished, conv.last_choice = undone.state, False, ""
        conv.facts, conv.scores = {}, {}
        flow = self.flows[conv.flow]
        for answer in conv.history:
            _record(conv, flow.states[answer.state], answer.value, answer.typed)
        conv.turn += 1
        return _Turn([self._state_message(conv)], applied=True)

    def _cancel(self, conv: Conversation) -> _Turn:
        was_in_flow = conv.flow is not None
        conv.flow, conv.state = None, ""
        conv.clear_answers()
        conv.turn += 1
        return _Turn(
            [self._say("common/cancelled.j2", conv, was_in_flow=was_in_flow)], applied=True
        )

    def _stale(self, conv: Conversation, event: Event) -> _Turn:
        duplicate = event.turn == conv.turn - 1 and event.choice_id == conv.last_choice
        if duplicate:
            return _Turn(stale=True)  # the same press arriving twice: already answered
        return self._with_current(conv, self._say("common/stale.j2", conv), stale=True)

    # -- forget -------------------------------------------------------------------------------

    def _ask_forget(self, conv: Conversation) -> _Turn:
        conv.pending = "forget"
        conv.turn += 1
        labels = self._labels(conv)
        choices = (Choice(FORGET_YES, labels.forget_yes), Choice(FORGET_NO, labels.forget_no))
        return _Turn(
            [Message(self._render("common/forget_confirm.j2", conv), choices)], applied=True
        )

    def _text_for_forget(self, conv: Conversation, text: str) -> _Turn:
        labels = self._labels(conv)
        options = (
            Option(
                FORGET_YES, labels.forget_yes, "", synonyms=("yes", "y", "yes please", "delete")
            ),
            Option(FORGET_NO, labels.forget_no, "", synonyms=("no", "n", "keep", "cancel")),
        )
        option = match_option(text, options)
        if option is None:
            conv.pending = ""
            return self._ask_forget(conv)
        return self._answer_forget(conv, option.id == FORGET_YES)

    def _answer_forget(self, conv: Conversation, confirmed: bool) -> _Turn:
        conv.pending = ""
        if confirmed:
            return _Turn([self._say("common/forgotten.j2", conv)], applied=True, forgotten=True)
        conv.turn += 1
        return self._with_current(conv, self._say("common/kept.j2", conv), applied=True)

    # -- messages -----------------------------------------------------------------------------

    def _state(self, conv: Conversation) -> State | None:
        if conv.flow is None or conv.flow not in self.flows:
            return None
        return self.flows[conv.flow].states.get(conv.state)

    def _with_current(
        self, conv: Conversation, first: Message, stale: bool = False, applied: bool = False
    ) -> _Turn:
        """A message, then the current question again, so the person never loses their place."""
        messages = [first]
        state = self._state(conv)
        if state is not None and not state.final and not conv.pending:
            messages.append(self._state_message(conv))
        return _Turn(messages, stale=stale, applied=applied)

    def _state_message(self, conv: Conversation) -> Message:
        state = self._state(conv)
        assert state is not None
        context = self.context(conv)
        text = self.renderer.render(state.template, **context)
        choices = tuple(Choice(option.id, option.label) for option in state.options)
        links = self._state_links(conv, state, context)
        outcome = self._outcome(conv, state, context) if state.final else None
        return Message(text, choices, links, outcome)

    def _state_links(
        self, conv: Conversation, state: State, context: dict[str, Any]
    ) -> tuple[Link, ...]:
        return tuple(self._link(conv, name, context) for name in state.links)

    def _outcome(self, conv: Conversation, state: State, context: dict[str, Any]) -> Outcome:
        return Outcome(
            flow=conv.flow or "",
            drivers=tuple(context["drivers"]),
            scores=tuple(sorted(conv.scores.items())),
            red_flag=state.red_flag,
            urgency=state.urgency,
            mostly_unsure=state.mostly_unsure,
        )

    def _info(self, conv: Conversation, name: str) -> Message:
        context = self.context(conv)
        text = self.renderer.render(f"common/{name}.j2", **context)
        links = (self._link(conv, name, context),) if name in LINK_COMMANDS else ()
        return Message(text, links=links)

    def _link(self, conv: Conversation, name: str, context: dict[str, Any]) -> Link:
        labels = self._labels(conv)
        practice = self.settings.practice
        if name == "book":
            url = booking_link(practice, conv.channel, conv.flow, self.summary(conv, context))
        else:
            url = {
                "youtube": practice.youtube_url,
                "podcast": practice.podcast_url,
                "facebook": practice.facebook_url,
                "instagram": practice.instagram_url,
            }[name]
        return Link(getattr(labels, name), url)

    def notice(self, template: str, channel: str = "", **extra: Any) -> str:
        """Light-markup text of a template outside any conversation (channel notices)."""
        return self.renderer.render(
            template, **self.context(Conversation(channel, "")), channel=channel, **extra
        )

    def _say(self, template: str, conv: Conversation, **extra: Any) -> Message:
        return Message(self._render(template, conv, **extra))

    def _render(self, template: str, conv: Conversation, **extra: Any) -> str:
        return self.renderer.render(template, **self.context(conv), **extra)

    def _labels(self, conv: Conversation) -> Any:
        return self.renderer.names("common/labels.j2", **self.context(conv))

    def context(self, conv: Conversation) -> dict[str, Any]:
        """Everything a template may print about this conversation."""
        flow = self.flows.get(conv.flow) if conv.flow else None
        drivers = rank_drivers(flow.drivers, conv.scores) if flow else []
        return {
            "practice": self.settings.practice,
            "flow": flow,
            "state": conv.state,
            "answers": conv.answers,
            "facts": conv.facts,
            "scores": conv.scores,
            "drivers": drivers,
            "top_drivers": top_drivers(drivers, conv.scores),
            "in_flow": flow is not None and not conv.finished,
        }

    def _answer_labels(self, conv: Conversation) -> dict[str, str]:
        """The label of each answered option, by state (typed values as typed)."""
        states = self.flows[conv.flow].states if conv.flow in self.flows else {}
        labels = {}
        for answer in conv.history:
            option = None if answer.typed else states[answer.state].option(answer.value)
            labels[answer.state] = option.label if option else str(answer.value)
        return labels

    def summary(self, conv: Conversation, context: dict[str, Any] | None = None) -> str:
        """The short screening summary that goes to the booking page."""
        context = context or self.context(conv)
        if not conv.flow or not self.renderer.exists(f"{conv.flow}/summary.j2"):
            return ""
        text = plain(self.renderer.render(f"{conv.flow}/summary.j2", **context,
                                          answer_labels=self._answer_labels(conv)))
        return " ".join(text.split())


def _record(conv: Conversation, state: State, value: Any, typed: bool) -> None:
    """Apply one answer's facts and scores to the conversation."""
    if typed:
        if state.input is not None:
            conv.facts[state.input.fact] = value
        return
    option = state.option(value)
    if option is None:
        return
    conv.facts.update(option.facts)
    for key, delta in option.scores.items():
        conv.scores[key] = conv.scores.get(key, 0) + delta
