"""Flows as data: YAML in dialogs/ loaded into frozen dataclasses and one `transitions` machine.

A flow's states each show one template. A state offers options (buttons), may take typed
input, may route onward by conditions on facts and scores, and may be final. The YAML compiles
to plain lists of states and transitions, one machine per flow shared by every conversation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from transitions import EventData, Machine

ROUTE_TRIGGER = "_route"
INPUT_TRIGGER = "_input"


class FlowLoader(yaml.SafeLoader):
    """YAML with only true/false as booleans, so answers like `no`, `yes`, `on` stay text."""


FlowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    FlowLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), [_first]
    )


class FlowError(ValueError):
    """A flow file that cannot be loaded; the message names file, state and field."""


@dataclass(frozen=True, slots=True)
class Option:
    """One answer to a question: a button, and what choosing it does."""

    id: str
    label: str
    next: str
    scores: dict[str, int] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Condition:
    """`when` a fact or score matches, go to `next`; no test means always."""

    next: str
    fact: str | None = None
    score: str | None = None
    equals: Any = None
    one_of: tuple[Any, ...] = ()
    at_least: int | None = None
    no_driver_scored: bool = False

    def holds(self, facts: dict[str, Any], scores: dict[str, int], drivers: list[str]) -> bool:
        if self.no_driver_scored:
            return not any(scores.get(driver, 0) > 0 for driver in drivers)
        if self.fact is not None:
            value = facts.get(self.fact)
            if self.one_of:
                return value in self.one_of
            return value == self.equals
        if self.score is not None and self.at_least is not None:
            return scores.get(self.score, 0) >= self.at_least
        return True


@dataclass(frozen=True, slots=True)
class Input:
    """Typed free-text input a state accepts, stored as a fact."""

    fact: str
    type: str = "text"  # text | number | name | email_or_phone
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 200
    next: str = ""


@dataclass(frozen=True, slots=True)
class State:
    """One step of a flow."""

    id: str
    template: str
    options: tuple[Option, ...] = ()
    input: Input | None = None
    route: tuple[Condition, ...] = ()
    final: bool = False
    red_flag: str | None = None
    urgency: str | None = None
    mostly_unsure: bool = False
    links: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    action: str = ""
    section: str = ""

    def option(self, option_id: str) -> Option | None:
        return next((option for option in self.options if option.id == option_id), None)


@dataclass(frozen=True, slots=True)
class Flow:
    """A whole screening flow: its states, drivers, counters and the file it came from."""

    id: str
    title: str
    start: str
    states: dict[str, State]
    drivers: tuple[str, ...]
    counters: tuple[str, ...]
    path: Path
    option_sets: dict[str, tuple[Option, ...]] = field(default_factory=dict)

    @property
    def score_keys(self) -> tuple[str, ...]:
        return self.drivers + self.counters


# ---------------------------------------------------------------------------------------------
# Loading


def load_flows(directory: Path) -> dict[str, Flow]:
    """Every `*.yaml` flow in a folder, keyed by flow id."""
    flows: dict[str, Flow] = {}
    for path in sorted(directory.glob("*.yaml")):
        flow = load_flow(path)
        if flow.id in flows:
            raise FlowError(f"{path}: flow id {flow.id!r} is already used by {flows[flow.id].path}")
        flows[flow.id] = flow
    return flows


def load_flow(path: Path) -> Flow:
    """Read one flow file; structural mistakes raise FlowError naming file, state and field."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=FlowLoader)
    except yaml.YAMLError as error:
        raise FlowError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise FlowError(f"{path}: a flow file must be a mapping")
    flow_id = _required(raw, "id", path, "flow")
    option_sets = {
        name: tuple(_option(item, path, f"option_sets.{name}") for item in items)
        for name, items in (raw.get("option_sets") or {}).items()
    }
    states_raw = raw.get("states")
    if not isinstance(states_raw, dict) or not states_raw:
        raise FlowError(f"{path}: flow {flow_id!r}: field 'states' must be a non-empty mapping")
    states = {
        state_id: _state(flow_id, state_id, spec or {}, option_sets, path)
        for state_id, spec in states_raw.items()
    }
    return Flow(
        id=flow_id,
        title=raw.get("title", flow_id),
        start=raw.get("start", next(iter(states))),
        states=states,
        drivers=tuple(raw.get("drivers") or ()),
        counters=tuple(raw.get("counters") or ()),
        path=path,
        option_sets=option_sets,
    )


def _required(raw: dict[str, Any], key: str, path: Path, where: str) -> Any:
    if raw.get(key) in (None, ""):
        raise FlowError(f"{path}: {where}: field {key!r} is missing")
    return raw[key]


def _state(
    flow_id: str,
    state_id: str,
    spec: dict[str, Any],
    option_sets: dict[str, tuple[Option, ...]],
    path: Path,
) -> State:
    where = f"state {state_id!r}"
    if not isinstance(spec, dict):
        raise FlowError(f"{path}: {where}: must be a mapping")
    options = _options(spec, option_sets, path, where)
    return State(
        id=state_id,
        template=spec.get("template", f"{flow_id}/{state_id}.j2"),
        options=options,
        input=_input(spec["input"], path, where) if spec.get("input") else None,
        route=tuple(_condition(item, path, where) for item in spec.get("route") or ()),
        final=bool(spec.get("final", False)),
        red_flag=spec.get("red_flag"),
        urgency=spec.get("urgency"),
        mostly_unsure=bool(spec.get("mostly_unsure", False)),
        links=tuple(spec.get("links") or ()),
        commands=tuple(spec.get("commands") or ()),
        action=spec.get("action", ""),
        section=spec.get("section", ""),
    )


def _options(
    spec: dict[str, Any], option_sets: dict[str, tuple[Option, ...]], path: Path, where: str
) -> tuple[Option, ...]:
    """A state's options: its own list, or a named option set with per-option overrides."""
    if "use" not in spec:
        return tuple(_option(item, path, where) for item in spec.get("options") or ())
    set_name = spec["use"]
    if set_name not in option_sets:
        raise FlowError(f"{path}: {where}: field 'use' names unknown option set {set_name!r}")
    overrides: dict[str, dict[str, Any]] = spec.get("options") or {}
    if not isinstance(overrides, dict):
        raise FlowError(f"{path}: {where}: with 'use', field 'options' maps option id -> changes")
    unknown = set(overrides) - {option.id for option in option_sets[set_name]}
    if unknown:
        raise FlowError(f"{path}: {where}: field 'options' overrides unknown ids {sorted(unknown)}")
    default_next = spec.get("next", "")
    built = []
    for option in option_sets[set_name]:
        change = overrides.get(option.id) or {}
        built.append(
            Option(
                id=option.id,
                label=change.get("label", option.label),
                next=change.get("next", default_next or option.next),
                scores=dict(change.get("scores", option.scores)),
                facts=dict(change.get("facts", option.facts)),
                synonyms=option.synonyms,
            )
        )
    return tuple(built)


def _option(item: dict[str, Any], path: Path, where: str) -> Option:
    if not isinstance(item, dict):
        raise FlowError(f"{path}: {where}: each option must be a mapping")
    option_id = str(_required(item, "id", path, f"{where} option"))
    return Option(
        id=option_id,
        label=str(_required(item, "label", path, f"{where} option {option_id!r}")),
        next=str(item.get("next", "")),
        scores={str(k): int(v) for k, v in (item.get("scores") or {}).items()},
        facts=dict(item.get("facts") or {}),
        synonyms=tuple(str(s).lower() for s in item.get("synonyms") or ()),
    )


def _input(item: dict[str, Any], path: Path, where: str) -> Input:
    return Input(
        fact=str(_required(item, "fact", path, f"{where} input")),
        type=item.get("type", "text"),
        minimum=item.get("min"),
        maximum=item.get("max"),
        max_length=int(item.get("max_length", 200)),
        next=str(_required(item, "next", path, f"{where} input")),
    )


def _condition(item: dict[str, Any], path: Path, where: str) -> Condition:
    when = item.get("when") or {}
    return Condition(
        next=str(_required(item, "next", path, f"{where} route")),
        fact=when.get("fact"),
        score=when.get("score"),
        equals=when.get("equals"),
        one_of=tuple(when.get("one_of") or ()),
        at_least=when.get("at_least"),
        no_driver_scored=bool(when.get("no_driver_scored", False)),
    )


# ---------------------------------------------------------------------------------------------
# The state machine


def build_machine(flow: Flow) -> Machine:
    """One `transitions` machine for a flow, shared by all conversations (models are passed in).

    Each option is a transition triggered by its id; typed input is `_input`; routing states
    try their conditions in order on `_route`.
    """
    transitions: list[dict[str, Any]] = []
    for state in flow.states.values():
        for option in state.options:
            transitions.append({"trigger": option.id, "source": state.id, "dest": option.next})
        if state.input is not None:
            transitions.append(
                {"trigger": INPUT_TRIGGER, "source": state.id, "dest": state.input.next}
            )
        for condition in state.route:
            transitions.append(
                {
                    "trigger": ROUTE_TRIGGER,
                    "source": state.id,
                    "dest": condition.next,
                    "conditions": [_condition_check(condition, flow.drivers)],
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


def _condition_check(condition: Condition, drivers: tuple[str, ...]):
    def check(event: EventData) -> bool:
        model = event.model
        return condition.holds(model.facts, model.scores, list(drivers))

    return check
