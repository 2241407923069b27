"""Composing messages: template context, state messages, link buttons, the booking summary."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from bot.core.booking import booking_link
from bot.core.channels import CHANNELS, ChannelSpec
from bot.core.clicks import (
    SIGNATURE_PARAMETER,
    TOKEN_PARAMETER,
    booking_signature,
    click_token,
)
from bot.core.conversation import Conversation
from bot.core.effects import StaffNotice
from bot.core.events import DONE_CHOICE, PRIMARY, Choice, Link, Message, Outcome
from bot.core.markup import plain
from bot.engine.commands import Commands
from bot.engine.flow import ACT_NOW_FACT, Flow, Option, RedFlag, State
from bot.engine.machine import holds
from bot.engine.render import Renderer
from bot.engine.scoring import (
    driver_status,
    evidence_sections,
    explained_drivers,
    highest_red_flag,
    named_drivers,
)
from bot.settings import Settings

NONE_OF_THESE = "confirm_none"  # the way out of "Did you mean ...?"
LINK_TARGETS = ("book", "youtube", "podcast", "facebook", "instagram")
CONTROLS = "controls.j2"  # how a channel's person reaches forget, withdraw, mydata
LABELS = "common/labels.j2"  # the button labels the engine adds itself
PICK_SEVERAL = "common/pick_several.j2"  # how to answer a pick-several question, per channel


class WorkedOut(Mapping[str, Any]):
    """A mapping worked out only if a template asks (each area's status, where each area's
    evidence came from): most messages never read it."""

    def __init__(self, work: Callable[[], dict[str, Any]]) -> None:
        self._work = work
        self._values: dict[str, Any] | None = None

    def _all(self) -> dict[str, Any]:
        if self._values is None:
            self._values = self._work()
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def red_flag_on_record(conv: Conversation) -> bool:
    """The person's latest screening stopped on a red flag, or left a safety question at
    emergency or same-day level "not sure" (now or in the screening under way): no booking is
    offered until a new screening starts."""
    outcome = conv.last_outcome or {}
    return bool(outcome.get("red_flag") or outcome.get(ACT_NOW_FACT)
                or conv.facts.get(ACT_NOW_FACT))


class Composer:
    """Turns a conversation into messages, from templates and settings."""

    def __init__(self, flows: dict[str, Flow], renderer: Renderer, settings: Settings,
                 commands: Commands | None = None) -> None:
        self.flows = flows
        self.renderer = renderer
        self.settings = settings
        self.commands = commands  # to offer a command's button only where it can work
        self._controls: dict[str, Any] = {}
        # What every render of a flow's templates shares, worked out once.
        self._titles = {fid: {d: s.title for d, s in flow.driver_specs.items()}
                        for fid, flow in flows.items()}
        self._start_flow = flows.get(settings.default_flow)
        self._channels: dict[str, ChannelSpec] = dict(CHANNELS)
        self._fixed_labels = (
            renderer.names(LABELS, practice=settings.practice)
            if renderer.exists(LABELS) and renderer.reads(LABELS) <= {"practice"} else None)

    def channel_can(self, channel: str) -> ChannelSpec:
        """What a channel can do; a channel the registry does not know (tests, scripts) can
        do what a spec's defaults say."""
        spec = self._channels.get(channel)
        if spec is None:
            spec = self._channels[channel] = ChannelSpec(channel)
        return spec

    def controls(self, channel: str) -> Any:
        """The words for a channel's controls: templates/<channel>/controls.j2, else the
        commands of templates/common/controls.j2."""
        if channel not in self._controls:
            own = f"{channel}/{CONTROLS}"
            name = own if self.renderer.exists(own) else f"common/{CONTROLS}"
            self._controls[channel] = self.renderer.names(name, practice=self.settings.practice)
        return self._controls[channel]

    def context(self, conv: Conversation, **extra: Any) -> dict[str, Any]:
        """Everything a template may print about this conversation."""
        flow = self.flows.get(conv.flow) if conv.flow else None
        named = named_drivers(flow, conv.scores, conv.facts) if flow else []
        answers = conv.answers
        status = WorkedOut(lambda: {d: driver_status(flow, d, named, answers)
                                    for d in flow.drivers}) if flow else {}
        return {
            "practice": self.settings.practice,
            "flow": flow,
            # The flow `start` begins (settings.default_flow): shared templates name it by
            # its title, never by a word of their own (`check` warns when one does).
            "start_flow": self._start_flow,
            "state": conv.state,
            "answers": answers,
            "facts": conv.facts,
            "scores": conv.scores,
            "drivers": named,
            "top_drivers": explained_drivers(named),
            "area_status": status,
            "evidence": WorkedOut(lambda: evidence_sections(flow, conv.history)) if flow
            else {},
            "titles": self._titles[flow.id] if flow else {},
            "in_flow": flow is not None and not conv.finished,
            "after_red_flag": red_flag_on_record(conv),
            "last_outcome": conv.last_outcome or {},
            "channel": conv.channel,
            # What the person's channel can do (a later message, buttons) and how its controls
            # are reached: texts name only what works where they are shown.
            "channel_can": self.channel_can(conv.channel),
            "controls": self.controls(conv.channel),
            "p": flow.words(conv.facts) if flow else {},
            **self._safety_context(flow, conv, answers),
            **extra,
        }

    @staticmethod
    def _safety_context(
        flow: Flow | None, conv: Conversation, answers: dict[str, Any]
    ) -> dict[str, Any]:
        """The red flag a safety state is about, its place in the questions asked, and the
        flags answered "yes" or left "not sure"."""
        flags = flow.red_flags if flow else {}
        state = flow.states.get(conv.state) if flow else None
        flag_id = state.safety or state.red_flag if state else None
        current: RedFlag | None = flags.get(flag_id) if flag_id else None
        yes = [flags[f] for f in conv.facts.get("red_flags", ()) if f in flags]
        unsure = [flags[f] for f in conv.facts.get("unsure_flags", ()) if f in flags]
        asked = [f for f, spec in flags.items() if spec.question in answers or f == flag_id]
        return {
            "safety_total": len(asked) + len(_still_to_ask(flow, conv, asked))
            if flow and current else 0,
            "red_flag": current,
            "red_flags_yes": yes,
            "unsure_flags": unsure,
            "highest_flag": highest_red_flag(flow, conv.facts.get("red_flags", ())) if flow
            else None,
            "safety_number": len(asked),
        }

    def render(self, template: str, conv: Conversation, **extra: Any) -> str:
        return self.renderer.render(template, **self.context(conv, **extra))

    def staff_notice(self, kind: str, template: str, conv: Conversation,
                     contact: tuple[tuple[str, str], ...] = (), **extra: Any) -> StaffNotice:
        """A notice for staff: in full for the staff rooms, and without health details
        (`health=False`) for alerts that leave them (email, a webhook)."""
        text = self.render(template, conv, **extra)
        brief = self.render(template, conv, health=False, **extra)
        return StaffNotice(kind, conv.channel, conv.user_id, text, brief=brief,
                           contact=tuple((name, value) for name, value in contact if value))

    def say(self, template: str, conv: Conversation, **extra: Any) -> Message:
        return Message(self.render(template, conv, **extra))

    def labels(self, conv: Conversation, context: dict[str, Any] | None = None) -> Any:
        """Button labels the engine adds itself (templates/common/labels.j2); worked out once
        when the practice's labels read nothing but the practice (as shipped)."""
        if self._fixed_labels is not None:
            return self._fixed_labels
        return self.renderer.names(LABELS, **(context or self.context(conv)))

    def render_names(self, template: str) -> Any:
        """The names a template sets, with only the practice in view (menus, labels)."""
        return self.renderer.names(template, practice=self.settings.practice)

    def state_message(self, conv: Conversation, state: State) -> Message:
        """The message for a state: its template, its options, links, commands and outcome."""
        context = self.context(conv)
        text = self.renderer.render(state.template, **context)
        if state.multi:  # how to pick several, worded for the channel, from one template
            examples = [short_words(o) for o in state.options[:2]]
            hint = self.renderer.render(PICK_SEVERAL, **context, examples=examples)
            text = f"{text.rstrip()}\n\n{hint.strip()}"
        wants_labels = state.links or state.commands or state.multi
        labels = self.labels(conv, context) if wants_labels else None
        choices = self._choices(conv, state, labels)
        offered = [name for name in state.commands
                   if self.commands is None or self.commands.offered_on(name, conv.channel)]
        choices += tuple(Choice(f"/{name}", getattr(labels, name)) for name in offered)
        shown_links = booking_first(
            [n for n in state.links if n != "book" or not red_flag_on_record(conv)])
        links = tuple(self.link(conv, name, context, labels) for name in shown_links)
        outcome = self.outcome(conv, state) if state.final and state.outcome else None
        return Message(text, choices, links, outcome, numbered=numbered_choices(state))

    def short(self, conv: Conversation, state: State, template: str, **extra: Any) -> Message:
        """A short message in place of the question (a re-ask, the picks so far), carrying
        the question's buttons so it is answered the same way."""
        context = self.context(conv, **extra)
        labels = self.labels(conv, context)
        choices = self._choices(conv, state, labels)
        choices += tuple(Choice(f"/{name}", getattr(labels, name)) for name in state.commands)
        return Message(self.renderer.render(template, **context), choices,
                       numbered=numbered_choices(state))

    def confirm(self, conv: Conversation, candidates: Sequence[Option]) -> Message:
        """ "Did you mean ...?" with the likely answers, and a way out, as buttons."""
        context = self.context(conv, candidates=[o.label for o in candidates])
        labels = self.labels(conv, context)
        choices = tuple(Choice(o.id, o.label) for o in candidates)
        text = self.renderer.render("common/confirm.j2", **context)
        return Message(text, (*choices, Choice(NONE_OF_THESE, labels.none_of_these)))

    @staticmethod
    def _choices(conv: Conversation, state: State, labels: Any) -> tuple[Choice, ...]:
        if not state.multi:
            return tuple(Choice(o.id, o.label, style=o.style) for o in state.options)
        picked = set(conv.selection)
        marked = tuple(
            Choice(o.id, f"{labels.picked} {o.label}" if o.id in picked else o.label,
                   selected=o.id in picked, style=o.style)
            for o in state.options
        )
        return (*marked, Choice(DONE_CHOICE, labels.done, style=PRIMARY))  # the way on

    def outcome(self, conv: Conversation, state: State) -> Outcome:
        """The structured result of a final state; a red flag wins over any result."""
        flow = self.flows.get(conv.flow or "")
        named = named_drivers(flow, conv.scores, conv.facts) if flow else []
        explained = () if state.red_flag else tuple(explained_drivers(named))
        flag = flow.red_flags.get(state.red_flag) if flow and state.red_flag else None
        specs = flow.driver_specs if flow else {}
        return Outcome(
            flow=conv.flow or "",
            drivers=explained,
            scores=tuple(sorted(conv.scores.items())),
            red_flag=state.red_flag,
            urgency=state.urgency,
            mostly_unsure=state.mostly_unsure,
            version=flow.version if flow else "",
            unsure_flags=tuple(conv.facts.get("unsure_flags", ())),
            red_flag_title=flag.title if flag else "",
            driver_titles=tuple(specs[d].title for d in explained if d in specs),
            state=state.id,
        )

    def info(self, conv: Conversation, name: str, link: str = "") -> Message:
        """The reply to help, about, book, youtube or podcast: its template and its link."""
        context = self.context(conv)
        text = self.renderer.render(f"common/{name}.j2", **context)
        links = (self.link(conv, link, context),) if link else ()
        return Message(text, links=links)

    def link(
        self, conv: Conversation, name: str, context: dict[str, Any], labels: Any = None
    ) -> Link:
        """A link button; through the bot's redirect (which counts clicks) when it has a URL.

        The redirect URL carries a signed token, never the person's id: the click is counted
        once per person and link.
        """
        labels = labels or self.labels(conv)
        summary = self.prefill(conv, context) if name == "book" else ""
        ref = conv.booking_ref if name == "book" else ""
        if self.settings.public_url:
            query = {"channel": conv.channel, "flow": conv.credited_flow}
            if summary:
                query["summary"] = summary
            if ref:
                query["ref"] = ref
            if summary or ref:
                query[SIGNATURE_PARAMETER] = booking_signature(
                    self.settings.link_key, conv.channel, conv.flow or "", summary, ref)
            token = click_token(self.settings.link_key, conv.channel, conv.user_id, name)
            query[TOKEN_PARAMETER] = token
            url = f"{self.settings.public_url.rstrip('/')}/go/{name}?{urlencode(query)}"
        else:
            url = target_url(self.settings, name, conv.channel, conv.credited_flow or None,
                             summary, ref)
        # The booking is the clear next step wherever it is offered: first and emphasised.
        return Link(getattr(labels, name), url, style=PRIMARY if name == "book" else "")

    def prefill(self, conv: Conversation, context: dict[str, Any] | None = None) -> str:
        """What the booking page is prefilled with (`practice.booking_prefill`): nothing, a
        short non-clinical line, or the full screening summary."""
        mode = self.settings.practice.booking_prefill
        if mode == "full":
            return self.summary(conv, context)
        if mode == "short":
            text = self.renderer.render("common/booking_prefill.j2",
                                        **(context or self.context(conv)))
            return " ".join(plain(text).split())
        return ""

    def summary(self, conv: Conversation, context: dict[str, Any] | None = None) -> str:
        """The short screening summary that goes to the booking page, one plain line."""
        flow = self.flows.get(conv.flow or "")
        template = flow.templates["summary"] if flow else ""
        if not template or not self.renderer.exists(template):
            return ""
        context = context or self.context(conv)
        text = self.renderer.render(template, **context, answer_labels=self.answer_labels(conv))
        return " ".join(plain(text).split())

    def answer_labels(self, conv: Conversation) -> dict[str, str]:
        """The label of each answered option, by state (typed values as typed)."""
        states = self.flows[conv.flow].states if conv.flow in self.flows else {}
        labels = {}
        for answer in conv.history:
            state = states[answer.state]
            picked = () if answer.typed else answer.value if state.multi else (answer.value,)
            options = [o for o in (state.option(p) for p in picked) if o is not None]
            shown = ", ".join(o.label for o in options) if options else str(answer.value)
            labels[answer.state] = shown
        return labels


def _still_to_ask(flow: Flow, conv: Conversation, asked: list[str]) -> list[str]:
    """The safety questions after the last one asked that this person will be asked, by what
    is known now (age, injury, swelling, calf): "of N" counts only the questions on their
    path, never those their answers skip, nor any after a flag their answers already raise
    (`raised_if`: the check stops there)."""
    flags = list(flow.red_flags)
    to_ask: list[str] = []
    for flag in flags[flags.index(asked[-1]) + 1:] if asked else []:
        question = flow.states.get(flow.red_flags[flag].question)
        if question is None or not all(holds(c, flow, conv.facts, conv.scores)
                                       for c in question.ask_if):
            continue
        if question.implied:
            break
        to_ask.append(question.id)
    return to_ask


MEANINGFUL_LETTERS = 4  # a shorter synonym is an abbreviation, unclear as an example


def short_words(option: Option) -> str:
    """An option as a person would type it: its label when short (two words at most), else
    its shortest short synonym that reads as the label does (shares a word with it: "obstacle
    racing", not "ocr" or a brand), else its shortest synonym of whole words."""
    if "," not in option.label and len(option.label.split()) <= 2:
        return option.label
    label_words = set(option.label.lower().split())
    alike = [s for s in option.synonyms
             if len(s.split()) <= 2 and label_words & set(s.lower().split())]
    meaningful = [s for s in option.synonyms if len(s) >= MEANINGFUL_LETTERS]
    return min(alike or meaningful or option.synonyms or (option.label,), key=len)


def numbered_choices(state: State) -> bool:
    """Whether a state's choices can be typed by their number: not where a typed number is
    the answer itself (a pain score), so no list of numbers sits beside a number scale."""
    return state.input is None or state.input.type != "number"


def booking_first(names: list[str]) -> list[str]:
    """Link targets with the booking first, the rest in the flow's order."""
    return sorted(names, key=lambda name: name != "book")


def target_url(
    settings: Settings, name: str, channel: str, flow: str | None, summary: str = "",
    ref: str = "",
) -> str:
    """Where a link target really goes; only ever a URL from settings."""
    practice = settings.practice
    if name == "book":
        return booking_link(practice, channel, flow, summary, ref)
    return {
        "youtube": practice.youtube_url,
        "podcast": practice.podcast_url,
        "facebook": practice.facebook_url,
        "instagram": practice.instagram_url,
    }[name]
