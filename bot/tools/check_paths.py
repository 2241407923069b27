"""`check`'s rules on a flow's shape: where each state leads, what is reachable from the
start, and each state's options, buttons and fields."""

from __future__ import annotations

from collections import deque

from bot.core.events import DONE_CHOICE
from bot.engine.commands import Commands
from bot.engine.compose import LINK_TARGETS
from bot.engine.flow import Flow, State
from bot.engine.stepper import ACTIONS
from bot.tools.check_limits import label_problems, payload_problems
from bot.tools.problem import Problem


def targets(state: State) -> list[tuple[str, str]]:
    """Every (field, state) a state can lead to."""
    if state.multi:
        found = [("next", state.next)]
    else:
        found = [(f"options.{option.id}.next", option.next) for option in state.options]
    if state.input is not None:
        found.append(("input.next", state.input.next))
    if state.ask_if or state.loaded:
        found.append(("next", state.next))
    found += [(f"route[{i}].next", c.next) for i, c in enumerate(state.route)]
    return found


def reachable(flow: Flow) -> set[str]:
    """States reachable from the start, or from where a follow-up's check-in starts."""
    starts = {flow.start} | {k.start for k in (flow.followups.kinds.values()
                                                 if flow.followups else ())}
    return starts | reached_from(flow, starts)


def reached_from(flow: Flow, starts: set[str]) -> set[str]:
    """States some path from `starts` leads to (a start itself only when on a loop)."""
    seen: set[str] = set()
    queue = deque(starts)
    while queue:
        state = flow.states.get(queue.popleft())
        for _, target in targets(state) if state else ():
            if target in flow.states and target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def check_reachable(flow: Flow) -> list[Problem]:
    seen = reachable(flow)
    return [
        Problem(str(flow.path), state_id, "states", "unreachable from the start state")
        for state_id in flow.states
        if state_id not in seen
    ]


def check_state(flow: Flow, state: State, engine_commands: Commands) -> list[Problem]:
    file, problems = str(flow.path), []
    for field, target in targets(state):
        if target not in flow.states:
            problems.append(Problem(file, state.id, field, f"unknown target state {target!r}"))
    if not state.final and not targets(state):
        problems.append(Problem(file, state.id, "options", "no way forward (not final)"))
    if state.final and targets(state):
        problems.append(Problem(file, state.id, "final", "a final state cannot lead on"))
    if state.route and state.route[-1].conditional:
        problems.append(Problem(file, state.id, "route", "last route needs no `when`"))
    problems += _check_multi(flow, state)
    seen: set[str] = set()
    for option in state.options:
        problems += _check_option(flow, state, option.id, option.label, seen)
        for key in list(option.scores):
            if key not in flow.score_keys:
                problems.append(
                    Problem(
                        file,
                        state.id,
                        f"options.{option.id}.scores",
                        f"unknown score {key!r} (declare it in drivers/counters)",
                    )
                )
        seen.add(option.id)
    if state.red_flag and state.urgency not in flow.urgencies:
        problems.append(Problem(file, state.id, "urgency", f"must be one of {flow.urgencies}"))
    for link in state.links:
        if link not in LINK_TARGETS:
            problems.append(Problem(file, state.id, "links", f"unknown link {link!r}"))
    for command in state.commands:
        if engine_commands.get(command) is None:
            problems.append(Problem(file, state.id, "commands", f"unknown command {command!r}"))
    if state.action and state.action not in ACTIONS:
        problems.append(Problem(file, state.id, "action", f"unknown action {state.action!r}"))
    return problems


def _check_multi(flow: Flow, state: State) -> list[Problem]:
    """A multi-select needs somewhere to go when done, and options that can be combined."""
    file, problems = str(flow.path), []
    exclusive = [option.id for option in state.options if option.exclusive]
    if not state.multi:
        if exclusive:
            problems.append(Problem(file, state.id, "options", "`exclusive` needs `select: many`"))
        return problems
    if not state.next:
        problems.append(Problem(file, state.id, "next", "a multi-select needs `next`"))
    if len(state.options) - len(exclusive) < 2:
        problems.append(
            Problem(file, state.id, "options", "a multi-select needs two options to combine")
        )
    if state.option(DONE_CHOICE) is not None:
        problems.append(
            Problem(file, state.id, "options", f"{DONE_CHOICE!r} is the Done button's id")
        )
    if state.input is not None:
        problems.append(Problem(file, state.id, "input", "a multi-select takes no typed input"))
    return problems


def _check_option(
    flow: Flow, state: State, option_id: str, label: str, seen: set[str]
) -> list[Problem]:
    file, field, problems = str(flow.path), f"options.{option_id}", []
    if option_id in seen:
        problems.append(Problem(file, state.id, field, "duplicate option id"))
    problems += [Problem(file, state.id, field, message) for message in payload_problems(option_id)]
    problems += [Problem(file, state.id, f"{field}.label", message)
                 for message in label_problems(label)]
    return problems
