"""A flow compiled to one `transitions` machine, shared by every conversation of that flow.

The library steps the machine: an answer's trigger moves the conversation; after every state
change the machine's `after_state_change` callback (the stepper's) triggers what comes next,
queued behind it — a red-flag exit when a safety answer calls for one (a condition on
`_red_flag`), a routing state's first condition that holds (`_route`), a question not to be
asked (`_skip`) — until a question to show or a final state; entering a final state calls
`on_final`. Conversations are the models, passed in per call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
from bot.engine.scoring import highest_red_flag, named_drivers

RED_FLAG_TRIGGER = "_red_flag"
Callback = Callable[[EventData], None]

# `transitions` logs every state entered and left ("Finished processing state redflag_... enter
# callbacks"): a person's answers, in time with their stored row. Only its errors, which name
# no state, may reach the log, whatever the verbosity.
TRANSITIONS_LOG_LEVEL = logging.ERROR


def build_machine(flow: Flow, after_state_change: Callback, on_final: Callback) -> Machine:
    """One machine per flow; models (conversations) are passed in per call. Triggers started
    inside a callback are queued and run, in order, before the first trigger returns."""
    logging.getLogger("transitions").setLevel(TRANSITIONS_LOG_LEVEL)
    states, transitions = machine_spec(flow)
    return Machine(
        model=None,
        states=states,
        transitions=[*transitions, *red_flag_exits(flow)],
        initial=flow.start,
        send_event=True,
        auto_transitions=False,
        ignore_invalid_triggers=False,
        queued=True,
        after_state_change=after_state_change,
        on_final=on_final,
    )


def red_flag_exits(flow: Flow) -> list[dict[str, Any]]:
    """From anywhere to a red flag's exit, when that flag is the most urgent one answered yes
    (whatever the flow file routes to): the safety gate as the machine's own transitions."""
    exits = dict.fromkeys(flag.exit for flag in flow.red_flags.values())
    return [{"trigger": RED_FLAG_TRIGGER, "source": [s for s in flow.states if s != exit_id],
             "dest": exit_id, "conditions": [_most_urgent_exit(flow, exit_id)]}
            for exit_id in exits]


def most_urgent_exit(flow: Flow, facts: dict[str, Any]) -> str | None:
    """The exit of the most urgent red flag answered yes, if any."""
    flag = highest_red_flag(flow, facts.get("red_flags", ()))
    return flag.exit if flag is not None else None


def _most_urgent_exit(flow: Flow, exit_id: str) -> Callback:
    def check(event: EventData) -> bool:
        return most_urgent_exit(flow, event.model.facts) == exit_id

    check.__name__ = f"most urgent red flag exits to {exit_id}"
    return check  # type: ignore[return-value]


def machine_spec(flow: Flow) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The flow as `transitions` states and transitions.

    Final states are marked final. Each option is a transition triggered by its id; typed
    input is `_input`; a finished multi-select is `_done`; a state not asked is left by `_skip`;
    routing states try their conditions in order on `_route`. Conditions are named for what
    they test, so diagrams read well.
    """
    states = [{"name": state.id, "final": state.final} for state in flow.states.values()]
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
    return states, transitions


def describe(condition: Condition) -> str:
    """A condition in words: `unsure >= 3`, `injury in this_week / weeks`, `always`."""
    if condition.no_driver_named:
        return "no area named"
    if condition.score:
        return f"{condition.score} >= {condition.at_least}"
    if condition.fact and condition.empty is not None:
        return f"{condition.fact} {'empty' if condition.empty else 'not empty'}"
    if condition.fact and condition.one_of:
        return f"{condition.fact} in {' / '.join(map(str, condition.one_of))}"
    if condition.fact:
        return f"{condition.fact} = {condition.equals}"
    return "always"


def holds(condition: Condition, flow: Flow, facts: dict[str, Any], scores: dict[str, int]) -> bool:
    """A condition tested against a conversation's facts and scores (the areas named worked
    out only for a condition that asks about them)."""
    named = named_drivers(flow, scores, facts) if condition.no_driver_named else []
    return condition.holds(facts, scores, named)


def _condition_check(condition: Condition, flow: Flow):
    def check(event: EventData) -> bool:
        model = event.model
        return holds(condition, flow, model.facts, model.scores)

    check.__name__ = describe(condition)
    return check
