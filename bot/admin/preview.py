"""Every message of every flow, as the web chat shows it, for the clinician who reviews the
wording: each state's text rendered with sample answers, its buttons and its links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError

from bot.core.conversation import Conversation
from bot.core.message_json import message_json
from bot.engine.flow import Flow, State
from bot.engine.samples import longest_wording
from bot.turns.runner import TurnRunner

PREVIEW_CHANNEL = "web"  # templates may word things per channel: the web chat's words


@dataclass(frozen=True)
class Shown:
    """One state's message as the chat shows it: the web chat's own JSON of it (blocks of
    spans, choices, links), which the page renders the way chat.js builds it, all escaped."""

    state: str
    section: str
    kind: str  # question, typed, result, red_flag, final
    message: dict[str, Any]  # bot/core/message_json.py `message_json`
    problem: str = ""  # why it could not be rendered with sample answers, if it could not


def sample(flow: Flow, state: State) -> Conversation:
    """A conversation at `state` in which every area scored and every answer was given, so the
    longest wording shows."""
    return longest_wording(flow, state, PREVIEW_CHANNEL, "preview")


def _kind(state: State) -> str:
    if state.red_flag:
        return "red_flag"
    if state.final:
        return "result" if state.outcome else "final"
    return "typed" if state.input is not None and not state.options else "question"


def preview(engine: TurnRunner, flow: Flow) -> list[Shown]:
    """Every state a person is shown (routing states are not), in the flow file's order."""
    shown = []
    for state in flow.states.values():
        if state.route:
            continue
        try:
            message = engine.compose.state_message(sample(flow, state), state)
        except (TemplateError, KeyError, TypeError, ValueError) as error:
            shown.append(Shown(state.id, state.section, _kind(state), {},
                               problem=f"does not render with sample answers: {error}"))
            continue
        shown.append(Shown(state.id, state.section, _kind(state), message_json(message, 0)))
    return shown
