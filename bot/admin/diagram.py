"""A flow drawn as a picture: its states and transitions laid out in layers, as SVG.

The states and transitions are the machine's own (`machine_spec`, what `transitions` runs and
`python -m bot graph` prints), laid out here in a few dozen lines: a layer per step from the
start (longest path, loops set aside), states in a layer ordered to sit near their
neighbours, edges as curves. No Graphviz binary, no browser script: it draws the same offline,
in CI and on any host (docs/dashboard.md says why).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from bot.engine.flow import Flow
from bot.engine.machine import machine_spec

NODE_HEIGHT = 30
LAYER_GAP = 70  # vertical room between layers, for the edges
NODE_GAP = 14
CHAR_WIDTH = 7.2  # px per character of a state's name at the diagram's font size
NODE_PADDING = 18
MARGIN = 20
SWEEPS = 4  # ordering passes (down and up) to bring linked states together
BOW, BOW_PER_LAYER, MAX_BOW = 60.0, 12.0, 260.0  # px an edge that skips layers bows out


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # start, question, route, result, red_flag, final
    x: float  # left
    y: float  # top
    width: float

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Edge:
    source: str
    dest: str
    label: str  # the answers (triggers) that take it, e.g. "yes, unsure"
    path: str  # SVG path data
    back: bool  # goes up, to an earlier layer (a loop)


@dataclass(frozen=True)
class Diagram:
    flow: str
    title: str
    width: float
    height: float
    nodes: list[Node]
    edges: list[Edge]


def _kind(flow: Flow, state_id: str) -> str:
    state = flow.states[state_id]
    if state_id == flow.start:
        return "start"
    if state.red_flag:
        return "red_flag"
    if state.final:
        return "result" if state.outcome else "final"
    return "route" if state.route else "question"


def _edges(flow: Flow) -> dict[tuple[str, str], list[str]]:
    """Transitions between each pair of states, with the triggers that take them."""
    _, transitions = machine_spec(flow)
    pairs: dict[tuple[str, str], list[str]] = {}
    for transition in transitions:
        key = (transition["source"], transition["dest"])
        trigger = transition["trigger"]
        for condition in transition.get("conditions", ()):
            trigger = getattr(condition, "__name__", trigger)
        if trigger not in pairs.setdefault(key, []):
            pairs[key].append(trigger)
    return pairs


def _layers(flow: Flow, pairs: dict[tuple[str, str], list[str]]) -> dict[str, int]:
    """Each state's layer: the longest path to it from the start, edges that loop back set
    aside (found by a depth-first walk); states not reached come last."""
    after: dict[str, list[str]] = defaultdict(list)
    for source, dest in pairs:
        after[source].append(dest)
    order: list[str] = []  # reverse post-order: a topological order once loops are set aside
    seen: set[str] = set()
    on_path: set[str] = set()
    back: set[tuple[str, str]] = set()
    roots = [flow.start] + [s for s in flow.states if s != flow.start]
    for root in roots:
        if root in seen:
            continue
        stack = [(root, iter(after[root]))]
        seen.add(root)
        on_path.add(root)
        while stack:
            state, rest = stack[-1]
            step = next(rest, None)
            if step is None:
                stack.pop()
                on_path.discard(state)
                order.append(state)
            elif step in on_path:
                back.add((state, step))
            elif step not in seen:
                seen.add(step)
                on_path.add(step)
                stack.append((step, iter(after[step])))
    layer = dict.fromkeys(flow.states, 0)
    for state in reversed(order):
        for dest in after[state]:
            if (state, dest) not in back:
                layer[dest] = max(layer[dest], layer[state] + 1)
    return layer


def _ordered(layers: list[list[str]], pairs: dict[tuple[str, str], list[str]]) -> None:
    """Order each layer by the mean position of its neighbours in the layer before (then
    after), a few passes: fewer crossings, shorter edges."""
    above: dict[str, list[str]] = defaultdict(list)
    below: dict[str, list[str]] = defaultdict(list)
    for source, dest in pairs:
        above[dest].append(source)
        below[source].append(dest)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        indices = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for index in indices:
            neighbour = layers[index - 1] if downward else layers[index + 1]
            position = {state: at for at, state in enumerate(neighbour)}
            links = above if downward else below

            def centre(state: str, here: int, links=links, position=position) -> float:
                near = [position[n] for n in links[state] if n in position]
                return sum(near) / len(near) if near else float(here)

            layers[index] = [state for _, state in sorted(
                (centre(state, here), state) for here, state in enumerate(layers[index]))]


def layout(flow: Flow) -> Diagram:
    """The flow's states in layers and its transitions as curves, in SVG coordinates."""
    pairs = _edges(flow)
    layer_of = _layers(flow, pairs)
    layers: list[list[str]] = [[] for _ in range(max(layer_of.values()) + 1)]
    for state in flow.states:  # the file's order first: questions read in the order written
        layers[layer_of[state]].append(state)
    _ordered(layers, pairs)
    widths = {s: NODE_PADDING * 2 + CHAR_WIDTH * len(s) for s in flow.states}
    row_widths = [sum(widths[s] for s in row) + NODE_GAP * (len(row) - 1) for row in layers]
    width = max(row_widths) + 2 * MARGIN
    nodes: dict[str, Node] = {}
    for index, row in enumerate(layers):
        x = (width - row_widths[index]) / 2
        y = MARGIN + index * (NODE_HEIGHT + LAYER_GAP)
        for state in row:
            nodes[state] = Node(state, _kind(flow, state), x, y, widths[state])
            x += widths[state] + NODE_GAP
    edges = [_edge(nodes[source], nodes[dest], triggers)
             for (source, dest), triggers in pairs.items()]
    height = MARGIN * 2 + len(layers) * NODE_HEIGHT + (len(layers) - 1) * LAYER_GAP
    title = f"{flow.title} (flow {flow.id} v{flow.version or '-'})"
    return Diagram(flow.id, title, width, height, list(nodes.values()), edges)


def _edge(source: Node, dest: Node, triggers: list[str]) -> Edge:
    label = ", ".join(triggers)
    if dest.y > source.y:  # downward: bottom centre to top centre
        x1, y1 = source.centre, source.y + NODE_HEIGHT
        x2, y2 = dest.centre, dest.y
        bend = (y2 - y1) / 2
        skipped = round((y2 - y1 - LAYER_GAP) / (NODE_HEIGHT + LAYER_GAP))  # layers passed
        if skipped:  # bow out sideways, round the states of the layers in between
            side = -1.0 if x2 < x1 else 1.0
            reach = side * min(MAX_BOW, BOW + BOW_PER_LAYER * skipped)
            bend = min(bend, LAYER_GAP)
            path = (f"M{x1:.1f},{y1:.1f} C{x1 + reach:.1f},{y1 + bend:.1f}"
                    f" {x2 + reach:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}")
            return Edge(source.id, dest.id, label, path, back=False)
        path = (f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} {x2:.1f},{y2 - bend:.1f}"
                f" {x2:.1f},{y2:.1f}")
        return Edge(source.id, dest.id, label, path, back=False)
    # Up or sideways (a loop): out of the right side, round, into the right side.
    x1, y1 = source.x + source.width, source.y + NODE_HEIGHT / 2
    x2, y2 = dest.x + dest.width, dest.y + NODE_HEIGHT / 2
    reach = 40 + abs(y1 - y2) / 6
    if source.id == dest.id:
        path = (f"M{x1:.1f},{y1 - 6:.1f} C{x1 + 30:.1f},{y1 - 24:.1f} {x1 + 30:.1f},"
                f"{y1 + 24:.1f} {x2:.1f},{y2 + 6:.1f}")
    else:
        right = max(x1, x2) + reach
        path = f"M{x1:.1f},{y1:.1f} C{right:.1f},{y1:.1f} {right:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    return Edge(source.id, dest.id, label, path, back=True)
