"""A flow compiled to one `transitions` machine, shared by every conversation of that flow."""

from __future__ import annotations

from typing import Any

from transitions import EventData, Machine

from bot.engine.flow import (
    DONE_TRIGGER,
    INPUT_TRIGGER,
    ROUTE_TRIGGER,
    SKIP_TRIGGER,
    Condition,
    Flow,
)
from bot.engine.scoring import named_drivers


def build_machine(flow: Flow) -> Machine:
    """Each option is a transition triggered by its id; typed input is `_input`; a finished
    multi-select is `_done`; a state not asked is left by `_skip`; routing states try their
    conditions in order on `_route`. Models (conversations) are passed in per call.
    """
    transitions: list[dict[str, Any]] = []
    for state in flow.states.values():
        if state.multi:
            transitions.append({"trigger": DONE_TRIGGER, "source": state.id, "dest": state.next})
        else:
            for option in state.options:
                transitions.append(
                    {"trigger": option.id, "source": state.id, "dest": option.next}
                )
        if state.input is not None:
            transitions.append(
                {"trigger": INPUT_TRIGGER, "source": state.id, "dest": state.input.next}
            )
        if state.next and (state.ask_if or state.loaded):
            transitions.append({"trigger": SKIP_TRIGGER, "source": state.id, "dest": state.next})
        for condition in state.route:
            transitions.append(
                {
                    "trigger": ROUTE_TRIGGER,
                    "source": state.id,
                    "dest": condition.next,
                    "conditions": [_condition_check(condition, flow)],
                }
            )
    return Machine(
        model=None,
        states=list(flow.states),
        transitions=transitions,
        initial=flow.start,
        send_event=True,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )


def holds(condition: Condition, flow: Flow, facts: dict[str, Any], scores: dict[str, int]) -> bool:
    """A condition tested against a conversation's facts and scores."""
    return condition.holds(facts, scores, named_drivers(flow, scores, facts))


def _condition_check(condition: Condition, flow: Flow):
    def check(event: EventData) -> bool:
        model = event.model
        return holds(condition, flow, model.facts, model.scores)

    return check
