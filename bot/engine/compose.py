"""Composing messages: template context, state messages, link buttons, the booking summary."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bot.engine.conversation import Conversation
from bot.engine.events import Choice, Link, Message, Outcome
from bot.engine.flow import Flow, State
from bot.engine.markup import plain
from bot.engine.render import Renderer
from bot.engine.scoring import rank_drivers, top_drivers
from bot.handoff.booking import booking_link
from bot.settings import Settings

LINK_TARGETS = ("book", "youtube", "podcast", "facebook", "instagram")


class Composer:
    """Turns a conversation into messages, from templates and settings."""

    def __init__(self, flows: dict[str, Flow], renderer: Renderer, settings: Settings) -> None:
        self.flows = flows
        self.renderer = renderer
        self.settings = settings

    def context(self, conv: Conversation, **extra: Any) -> dict[str, Any]:
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
            "channel": conv.channel,
            **extra,
        }

    def render(self, template: str, conv: Conversation, **extra: Any) -> str:
        return self.renderer.render(template, **self.context(conv, **extra))

    def say(self, template: str, conv: Conversation, **extra: Any) -> Message:
        return Message(self.render(template, conv, **extra))

    def labels(self, conv: Conversation) -> Any:
        """Button labels the engine adds itself (templates/common/labels.j2)."""
        return self.renderer.names("common/labels.j2", **self.context(conv))

    def state_message(self, conv: Conversation, state: State) -> Message:
        """The message for a state: its template, its options, links, commands and outcome."""
        context = self.context(conv)
        text = self.renderer.render(state.template, **context)
        labels = self.labels(conv) if state.links or state.commands else None
        choices = tuple(Choice(option.id, option.label) for option in state.options)
        choices += tuple(Choice(f"/{name}", getattr(labels, name)) for name in state.commands)
        links = tuple(self.link(conv, name, context, labels) for name in state.links)
        outcome = self.outcome(conv, state, context["drivers"]) if state.final else None
        return Message(text, choices, links, outcome)

    def outcome(self, conv: Conversation, state: State, drivers: list[str]) -> Outcome:
        return Outcome(
            flow=conv.flow or "",
            drivers=tuple(drivers),
            scores=tuple(sorted(conv.scores.items())),
            red_flag=state.red_flag,
            urgency=state.urgency,
            mostly_unsure=state.mostly_unsure,
        )

    def info(self, conv: Conversation, name: str) -> Message:
        """The reply to help, about, book, youtube or podcast."""
        context = self.context(conv)
        text = self.renderer.render(f"common/{name}.j2", **context)
        links = (self.link(conv, name, context),) if name in LINK_TARGETS else ()
        return Message(text, links=links)

    def link(
        self, conv: Conversation, name: str, context: dict[str, Any], labels: Any = None
    ) -> Link:
        """A link button; through the bot's redirect (which counts clicks) when it has a URL."""
        labels = labels or self.labels(conv)
        summary = self.summary(conv, context) if name == "book" else ""
        if self.settings.public_url:
            query = {"channel": conv.channel, "flow": conv.flow or ""}
            if summary:
                query["summary"] = summary
            url = f"{self.settings.public_url.rstrip('/')}/go/{name}?{urlencode(query)}"
        else:
            url = target_url(self.settings, name, conv.channel, conv.flow, summary)
        return Link(getattr(labels, name), url)

    def summary(self, conv: Conversation, context: dict[str, Any] | None = None) -> str:
        """The short screening summary that goes to the booking page, one plain line."""
        template = f"{conv.flow}/summary.j2"
        if not conv.flow or not self.renderer.exists(template):
            return ""
        context = context or self.context(conv)
        text = self.renderer.render(template, **context, answer_labels=self.answer_labels(conv))
        return " ".join(plain(text).split())

    def answer_labels(self, conv: Conversation) -> dict[str, str]:
        """The label of each answered option, by state (typed values as typed)."""
        states = self.flows[conv.flow].states if conv.flow in self.flows else {}
        labels = {}
        for answer in conv.history:
            option = None if answer.typed else states[answer.state].option(answer.value)
            labels[answer.state] = option.label if option else str(answer.value)
        return labels


def target_url(
    settings: Settings, name: str, channel: str, flow: str | None, summary: str = ""
) -> str:
    """Where a link target really goes; only ever a URL from settings."""
    practice = settings.practice
    if name == "book":
        return booking_link(practice, channel, flow, summary)
    return {
        "youtube": practice.youtube_url,
        "podcast": practice.podcast_url,
        "facebook": practice.facebook_url,
        "instagram": practice.instagram_url,
    }[name]
