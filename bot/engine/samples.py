"""Sample answers a flow's templates are rendered with before anyone talks to the bot: by
`python -m bot check` (every branch must render) and by the dashboard's preview of a flow
(the longest wording, for the clinician who reviews it)."""

from __future__ import annotations

from bot.core.conversation import Answer, Conversation
from bot.engine.flow import Flow, State

# A typed answer of each input type.
TYPED_SAMPLES: dict[str, object] = {
    "number": 7, "name": "Sam", "email_or_phone": {"email": "sam@example.com"}, "text": "text",
}


def typed_facts(flow: Flow) -> dict[str, object]:
    """What every typed question of the flow would have saved."""
    return {state.input.fact: TYPED_SAMPLES.get(state.input.type, "text")
            for state in flow.states.values() if state.input is not None}


def chosen_facts(flow: Flow) -> dict[str, object]:
    """What the options of the flow would have saved, each fact once."""
    return {key: value for state in flow.states.values() for option in state.options
            for key, value in option.facts.items()}


def sample_conversation(flow: Flow, state: State, scores: dict[str, int],
                        facts: dict[str, object], answer: str, channel: str = "check",
                        user_id: str = "check") -> Conversation:
    """A conversation at `state` with these scores and facts, every question answered `answer`."""
    conv = Conversation(channel, user_id, flow=flow.id, state=state.id, scores=scores,
                        facts=facts)
    conv.history = [Answer(state_id, answer) for state_id in flow.states]
    return conv


def longest_wording(flow: Flow, state: State, channel: str = "check",
                    user_id: str = "check") -> Conversation:
    """A conversation at `state` in which every area scored and every answer was given (all
    "not sure"), so the longest wording shows."""
    every = {driver: index + 1 for index, driver in enumerate(flow.drivers)}
    return sample_conversation(flow, state, every, {**chosen_facts(flow), **typed_facts(flow)},
                               "unsure", channel, user_id)


def sample_conversations(flow: Flow, state: State) -> list[Conversation]:
    """Conversations that take a template's branches: nothing scored, every area scored and
    all unsure, every score at its most and all yes."""
    facts = {**chosen_facts(flow), **typed_facts(flow)}
    return [
        sample_conversation(flow, state, {}, typed_facts(flow), "no"),
        longest_wording(flow, state),
        sample_conversation(flow, state, {key: 10 for key in flow.score_keys}, facts, "yes"),
    ]
