"""`check` of a flow against its clinical specification (docs/clinical.md): the urgency table
is the single source each red flag's urgency is checked against, the answers a red flag's
`ask_if` / `raised_if` test are asked before it, and an urgent "not sure" has its advice."""

from __future__ import annotations

import re

from bot.engine.flow import Flow
from bot.tools.check_paths import reached_from
from bot.tools.problem import Problem

_ROW = re.compile(r"^\|\s*[0-9]+[a-z]?\s*\|\s*`([a-z0-9_]+)`\s*\|")
_LEVEL = re.compile(r"^\|\s*`([a-z0-9_]+)`\s*\|")


def spec_levels(text: str) -> dict[str, bool]:
    """urgency -> act now, highest first, from the urgency levels table (`Act now` column)."""
    found: dict[str, bool] = {}
    column = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if column is None and "Urgency" in cells and "Act now" in cells:
            column = cells.index("Act now")
            continue
        match = _LEVEL.match(line.strip())
        if column is not None and match and len(cells) > column:
            found[match.group(1)] = cells[column].lower().startswith("yes")
        elif column is not None and found and not line.strip().startswith("|"):
            break
    return found


def spec_urgencies(text: str) -> dict[str, str]:
    """id -> urgency from the red-flag table (its `Urgency` column)."""
    found: dict[str, str] = {}
    column = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "Urgency" in cells and "id" in cells:
            column = cells.index("Urgency")
            continue
        match = _ROW.match(line.strip())
        if column is not None and match and len(cells) > column:
            found[match.group(1)] = cells[column]
        elif column is not None and found and not line.strip().startswith("|"):
            break  # the end of the table
    return found


def check_spec(flow: Flow, renderer_exists=None) -> list[Problem]:
    if not flow.red_flags:
        return []
    file, problems = str(flow.path), []
    spec_path = flow.path.parent.parent / flow.spec if flow.spec else None
    if spec_path is None or not spec_path.is_file():
        problems.append(Problem(file, "", "clinical.spec",
                                f"no clinical specification at {spec_path}", warning=True))
        table = {flag.id: flag.urgency for flag in flow.red_flags.values()}
    else:
        text = spec_path.read_text(encoding="utf-8")
        table = spec_urgencies(text)
        problems += _check_levels(flow, spec_levels(text))
    for flag in flow.red_flags.values():
        if flag.id not in table:
            problems.append(Problem(file, "", f"safety.red_flags.{flag.id}",
                                    f"not in the urgency table of {flow.spec}"))
        elif table[flag.id] != flag.urgency:
            problems.append(Problem(file, "", f"safety.red_flags.{flag.id}.urgency",
                                    f"{flag.urgency!r}, but {flow.spec} says {table[flag.id]!r}"))
    for flag_id in sorted(set(table) - set(flow.red_flags)):
        problems.append(Problem(file, "", "safety.red_flags",
                                f"{flow.spec} lists {flag_id!r}, which the flow does not ask"))
    problems += _check_facts_asked_before(flow)
    problems += _check_values_answered(flow)
    if renderer_exists is not None and any(f.urgency in flow.act_now
                                           for f in flow.red_flags.values()):
        template = flow.templates["unsure_now"]
        if not renderer_exists(template):
            problems.append(Problem(file, "", "templates.unsure_now", f"missing template "
                                    f"{template} (advice for an urgent question left unsure)"))
    return problems


def _check_levels(flow: Flow, levels: dict[str, bool]) -> list[Problem]:
    """The flow's urgency table is the spec's: the same urgencies, in the same order (highest
    first), acted on at once ("not sure" advised in the very next message) at the same ones."""
    file = str(flow.path)
    mine = {urgency: urgency in flow.act_now for urgency in flow.urgencies}
    if list(levels) != list(mine):
        return [Problem(file, "", "safety.urgencies", f"{list(mine)}, but {flow.spec} lists "
                        f"{list(levels)} (highest first)")]
    return [Problem(file, "", f"safety.urgencies.{u}.act_now",
                    f"{mine[u]}, but {flow.spec} says {levels[u]}")
            for u in mine if mine[u] != levels[u]]


def _check_values_answered(flow: Flow) -> list[Problem]:
    """A red flag's `ask_if` / `raised_if` tests only values some answer gives: a value no
    option sets is a question (or a raise) no person can ever reach."""
    file, problems = str(flow.path), []
    given: dict[str, set] = {}
    for state in flow.states.values():
        for option in state.options:
            for fact, value in option.facts.items():
                given.setdefault(fact, set()).add(value)
    for flag in flow.red_flags.values():
        for condition in flag.ask_if + flag.raised_if:
            values = condition.one_of or (() if condition.equals is None else (condition.equals,))
            if condition.fact not in given:
                continue  # set by the engine or typed input, not by an option
            for value in values:
                if value not in given[condition.fact]:
                    problems.append(Problem(file, flag.question, "ask_if", f"tests "
                                            f"{condition.fact} = {value!r}, which no answer gives"))
    return problems


def _after(flow: Flow, start: str) -> set[str]:
    """States reachable from `start` (itself excluded unless on a loop)."""
    return reached_from(flow, {start})


def _check_facts_asked_before(flow: Flow) -> list[Problem]:
    """Every fact a red flag's conditions test is set by a question that comes before it."""
    file, problems = str(flow.path), []
    setters: dict[str, set[str]] = {}
    for state in flow.states.values():
        for option in state.options:
            for fact in option.facts:
                setters.setdefault(fact, set()).add(state.id)
    for flag in flow.red_flags.values():
        conditions = flag.ask_if + flag.raised_if
        later = _after(flow, flag.question)
        for condition in conditions:
            fact = condition.fact
            if fact is None:
                continue
            before = [s for s in setters.get(fact, ()) if flag.question in _after(flow, s)
                      and s not in later]
            if not before:
                problems.append(Problem(file, flag.question, "ask_if",
                                        f"tests {fact!r}, which no question before it sets"))
    return problems
