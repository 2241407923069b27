"""`check`'s rules on a flow's safety and clinical content: red flags asked highest urgency
first on every path and each ending in its exit, areas a self-check can name, and a clinical
version and sign-off."""

from __future__ import annotations

from bot.engine.flow import Flow
from bot.tools.check_paths import reachable, targets
from bot.tools.problem import Problem


def check_safety(flow: Flow) -> list[Problem]:
    """Red flags: known urgencies, asked highest urgency first on every path, each reachable
    and ending in a final exit that its "yes" leads to."""
    file, problems = str(flow.path), []
    reached = reachable(flow)
    ranks = [flag.rank for flag in flow.red_flags.values()]
    for flag in flow.red_flags.values():
        if flag.urgency not in flow.urgencies:
            problems.append(Problem(file, "", f"safety.red_flags.{flag.id}.urgency",
                                    f"must be one of the urgencies {flow.urgencies}"))
        question = flow.states.get(flag.question)
        if question is None or flag.question not in reached:
            problems.append(Problem(file, flag.question, "safety", "red flag never asked"))
        exit_state = flow.states.get(flag.exit)
        if exit_state is None or not exit_state.final or exit_state.red_flag != flag.id:
            problems.append(Problem(file, flag.exit, "safety", "red flag exit is not final"))
        for state_id in (flag.question, flag.clarify):
            state = flow.states.get(state_id)
            yes = state.option("yes") if state else None
            if yes is None or yes.next != flag.exit:
                problems.append(
                    Problem(file, state_id, "options.yes", f"must lead to {flag.exit!r}")
                )
    if ranks != sorted(ranks):
        problems.append(Problem(file, "", "safety.red_flags",
                                "not in order of urgency, highest first"))
    problems += _check_urgency_on_paths(flow)
    for state in flow.states.values():
        if state.red_flag and state.urgency not in flow.urgencies:
            problems.append(Problem(file, state.id, "urgency", f"must be one of {flow.urgencies}"))
    return problems


def _check_urgency_on_paths(flow: Flow) -> list[Problem]:
    """On no path may a safety question come after one of lower urgency."""
    rank = {
        state.id: flow.red_flags[state.safety].rank
        for state in flow.states.values()
        if state.safety in flow.red_flags
    }
    seen: set[tuple[str, int]] = set()
    stack = [(flow.start, -1)]  # (state, the lowest urgency asked so far as a rank)
    problems = []
    while stack:
        state_id, lowest = stack.pop()
        if (state_id, lowest) in seen or state_id not in flow.states:
            continue
        seen.add((state_id, lowest))
        if rank.get(state_id, lowest) < lowest:
            problems.append(Problem(str(flow.path), state_id, "safety",
                                    "asked after a question of lower urgency"))
            continue
        lowest = max(lowest, rank.get(state_id, -1))
        stack += [(target, lowest) for _, target in targets(flow.states[state_id])]
    return problems


def check_drivers(flow: Flow) -> list[Problem]:
    """Every area can be named by some reachable self-check, and its checks exist."""
    file, problems = str(flow.path), []
    reached = reachable(flow)
    for driver in flow.driver_specs.values():
        best = 0
        for state in flow.states.values():
            if state.id not in reached:
                continue
            gains = [option.scores.get(driver.id, 0) for option in state.options]
            best += sum(gains) if state.multi else max(gains, default=0)
        if best < driver.named_at:
            problems.append(Problem(file, "", f"drivers.{driver.id}",
                                    f"no reachable self-check can reach {driver.named_at}"))
        for check in driver.checks:
            if check not in flow.states:
                problems.append(Problem(file, "", f"drivers.{driver.id}.checks",
                                        f"unknown state {check!r}"))
    return problems


def check_clinical(flow: Flow) -> list[Problem]:
    """A flow with red flags carries a version and, once signed off, its reviewer."""
    if not flow.red_flags:
        return []
    file, problems = str(flow.path), []
    if not flow.version:
        problems.append(Problem(file, "", "version", "a flow with red flags needs a version"))
    if not flow.reviewed_by:
        problems.append(Problem(file, "", "clinical.reviewed_by",
                                f"the clinical spec ({flow.spec or 'none'}) is not signed off",
                                warning=True))
    return problems
