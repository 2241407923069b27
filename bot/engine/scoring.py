"""Pure decisions about answers: which areas the evidence names, which red flag wins."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.engine.flow import UNSURE, Flow, RedFlag

MOST_EXPLAINED = 2  # a result explains at most this many areas, best first

NAMED, FINE, UNCLEAR = "named", "fine", "unclear"


def named_drivers(flow: Flow, scores: Mapping[str, int], facts: Mapping[str, Any]) -> list[str]:
    """Drivers whose self-check evidence reaches their threshold, best first.

    Ties on evidence are broken by the facts a driver lists in `tie_break` (where it hurts, what
    makes it worse), then by the flow's order; those facts never name a driver on their own.
    """
    order = {driver: index for index, driver in enumerate(flow.drivers)}
    named = [
        driver
        for driver, spec in flow.driver_specs.items()
        if scores.get(driver, 0) >= max(spec.named_at, 1)
    ]
    return sorted(
        named,
        key=lambda d: (-scores[d], -tie_break_matches(flow, d, facts), order[d]),
    )


def tie_break_matches(flow: Flow, driver: str, facts: Mapping[str, Any]) -> int:
    """How many of the driver's tie-break facts the person's answers match."""
    matches = 0
    for fact, values in flow.driver_specs[driver].tie_break.items():
        answered = facts.get(fact)
        answered = answered if isinstance(answered, list | tuple) else [answered]
        matches += sum(1 for value in answered if value in values)
    return matches


def explained_drivers(named: Sequence[str], most: int = MOST_EXPLAINED) -> list[str]:
    """The areas a result names and explains: the best `most` of the named ones."""
    return list(named[:most])


def evidence_sections(flow: Flow, history: Iterable[Any]) -> dict[str, list[str]]:
    """Where each area's evidence came from: the sections (in the flow's `section:` words) of
    the answers that scored it, in the order answered. A result says "your own checks" only
    where a self-check gave the evidence, not a question."""
    sections: dict[str, list[str]] = {}
    for answer in history:
        state = flow.states.get(answer.state)
        if state is None or answer.typed:
            continue
        picked = answer.value if state.multi else (answer.value,)
        for option in filter(None, (state.option(p) for p in picked)):
            for driver, delta in option.scores.items():
                found = sections.setdefault(driver, [])
                if delta > 0 and state.section not in found:
                    found.append(state.section)
    return sections


def driver_status(
    flow: Flow, driver: str, named: Sequence[str], answers: Mapping[str, Any]
) -> str:
    """`named` (evidence points here), `fine` (every check done, nothing found) or `unclear`."""
    if driver in named:
        return NAMED
    checks = flow.driver_specs[driver].checks
    return FINE if checks and all(_definite(answers.get(check)) for check in checks) else UNCLEAR


def _definite(answer: Any) -> bool:
    """An answer that says something: given, and not "not sure" (alone or among picks)."""
    picked = answer if isinstance(answer, list | tuple) else (answer,)
    return answer is not None and UNSURE not in picked


def highest_red_flag(flow: Flow, flag_ids: Iterable[str]) -> RedFlag | None:
    """The red flag whose urgency is highest; on equal urgency, the one asked first."""
    flags = [flow.red_flags[f] for f in flag_ids if f in flow.red_flags]
    if not flags:
        return None
    order = {flag_id: index for index, flag_id in enumerate(flow.red_flags)}
    return min(flags, key=lambda flag: (flag.rank, order[flag.id]), default=None)
