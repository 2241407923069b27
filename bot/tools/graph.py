"""`python -m bot graph FLOW`: a Mermaid flowchart of a flow."""

from __future__ import annotations

from bot.engine.flow import Condition, Flow, State


def mermaid(flow: Flow) -> str:
    """The flow as a Mermaid `flowchart TD`; red-flag exits in red, results in green."""
    lines = ["flowchart TD"]
    for state in flow.states.values():
        lines.append(f"    {state.id}{_shape(state)}")
    for state in flow.states.values():
        lines += _edges(state)
    lines.append("    classDef redflag fill:#fde2e1,stroke:#c0392b")
    lines.append("    classDef result fill:#e3f6e8,stroke:#2e8b57")
    red = [s.id for s in flow.states.values() if s.red_flag]
    results = [s.id for s in flow.states.values() if s.final and not s.red_flag]
    if red:
        lines.append(f"    class {','.join(red)} redflag")
    if results:
        lines.append(f"    class {','.join(results)} result")
    return "\n".join(lines) + "\n"


def _shape(state: State) -> str:
    if state.route:
        return f"{{{state.id}}}"
    if state.final:
        return f"([{state.id}])"
    return f"[{state.id}]"


def _edges(state: State) -> list[str]:
    grouped: dict[str, list[str]] = {}
    if state.multi:
        grouped[state.next] = [f"picks: {' / '.join(o.id for o in state.options)}"]
    for option in () if state.multi else state.options:
        grouped.setdefault(option.next, []).append(option.id)
    if state.input is not None:
        grouped.setdefault(state.input.next, []).append(f"typed {state.input.fact}")
    edges = [
        f'    {state.id} -->|"{" / ".join(labels)}"| {target}' for target, labels in grouped.items()
    ]
    if state.ask_if or state.loaded:
        why = "not asked" if state.ask_if else "skipped while a safety answer is unsure"
        edges.append(f'    {state.id} -.->|"{why}"| {state.next}')
    for condition in state.route:
        label = _describe(condition)
        edges.append(
            f'    {state.id} -->|"{label}"| {condition.next}'
            if label
            else f"    {state.id} --> {condition.next}"
        )
    return edges


def _describe(condition: Condition) -> str:
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
    return ""
