"""`python -m bot graph FLOW`: the flow as a Mermaid state diagram, drawn by `transitions`."""

from __future__ import annotations

from transitions.extensions import GraphMachine

from bot.engine.flow import Flow
from bot.engine.machine import machine_spec


class _Drawing:
    """The model `transitions` needs to draw a machine."""


def mermaid(flow: Flow) -> str:
    """The flow as a Mermaid `stateDiagram-v2`; red-flag exits in red, results in green."""
    states, transitions = machine_spec(flow)
    model = _Drawing()
    GraphMachine(
        model=model,
        states=states,
        transitions=transitions,
        initial=flow.start,
        graph_engine="mermaid",
        auto_transitions=False,
        show_conditions=True,
        show_state_attributes=False,
        send_event=True,
        title=f"{flow.title} (flow {flow.id} v{flow.version or '-'})",
    )
    lines = model.get_graph().draw(None).rstrip().splitlines()
    red = [s.id for s in flow.states.values() if s.red_flag]
    results = [s.id for s in flow.states.values() if s.final and not s.red_flag]
    lines.append("  classDef redflag fill:#fde2e1,stroke:#c0392b")
    lines.append("  classDef result fill:#e3f6e8,stroke:#2e8b57")
    lines += [f"  class {state} redflag" for state in red]
    lines += [f"  class {state} result" for state in results]
    return "\n".join(lines) + "\n"
