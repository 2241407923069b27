"""`check` of a flow against its clinical specification (docs/clinical.md): the urgency table
is the single source each red flag's urgency is checked against, the answers a red flag's
`ask_if` / `raised_if` test are asked before it, and an urgent "not sure" has its advice."""

from __future__ import annotations

import re

from bot.engine.flow import ACT_NOW, Flow
from bot.tools.check_paths import reached_from
from bot.tools.problem import Problem

_ROW = re.compile(r"^\|\s*[0-9]+[a-z]?\s*\|\s*`([a-z0-9_]+)`\s*\|")


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
        table = spec_urgencies(spec_path.read_text(encoding="utf-8"))
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
    if renderer_exists is not None and any(f.urgency in ACT_NOW for f in flow.red_flags.values()):
        template = f"{flow.id}/unsure_now.j2"
        if not renderer_exists(template):
            problems.append(Problem(file, "", "safety", f"missing template {template} (advice "
                                    "for an emergency or same-day question left unsure)"))
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
