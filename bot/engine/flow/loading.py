"""Reading flows from their YAML files in dialogs/: every structural mistake is a FlowError
naming the file, the state and the field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.engine.flow.dialect import FlowLoader
from bot.engine.flow.fields import condition_test, conditions, required
from bot.engine.flow.model import (
    COMMANDS_FILE,
    FLOW_TEMPLATES,
    Condition,
    ConsentSpec,
    Driver,
    Flow,
    FlowError,
    FollowupKind,
    FollowupSpec,
    Input,
    Option,
    State,
)
from bot.engine.flow.safety import load_safety


def load_flows(directory: Path) -> dict[str, Flow]:
    """Every `*.yaml` flow in a folder, keyed by flow id."""
    flows: dict[str, Flow] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == COMMANDS_FILE:
            continue  # the command registry, not a flow
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
    flow_id = required(raw, "id", path, "flow")
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
    red_flags, urgencies = load_safety(flow_id, raw.get("safety"), option_sets, states, path)
    driver_specs = _drivers(raw.get("drivers"), path)
    clinical = raw.get("clinical") or {}
    return Flow(
        id=flow_id,
        title=raw.get("title", flow_id),
        start=raw.get("start", next(iter(states))),
        states=states,
        drivers=tuple(driver_specs),
        counters=tuple(raw.get("counters") or ()),
        path=path,
        option_sets=option_sets,
        version=str(raw.get("version") or ""),
        spec=str(clinical.get("spec") or ""),
        reviewed_by=str(clinical.get("reviewed_by") or ""),
        red_flags=red_flags,
        urgencies=tuple(urgencies),
        act_now=tuple(u for u, now in urgencies.items() if now),
        driver_specs=driver_specs,
        entry=dict(raw.get("entry") or {}),
        lead={str(k): str(v) for k, v in (raw.get("lead") or {}).items()},
        wording=dict(raw.get("wording") or {}),
        consent=_consent(raw.get("consent"), path),
        followups=_followups(flow_id, raw.get("followups"), path),
        templates=_templates(flow_id, raw.get("templates"), path),
    )


def _templates(flow_id: str, raw: Any, path: Path) -> dict[str, str]:
    """`templates: {summary: knee/summary.j2, ...}`: the flow's own messages, each named by
    the flow or found where FLOW_TEMPLATES says."""
    if raw is not None and not isinstance(raw, dict):
        raise FlowError(f"{path}: field 'templates' must be a mapping of message to template")
    named = dict(raw or {})
    unknown = sorted(set(named) - set(FLOW_TEMPLATES))
    if unknown:
        raise FlowError(f"{path}: templates: unknown message {unknown[0]!r} (known: "
                        f"{', '.join(FLOW_TEMPLATES)})")
    return {name: str(named.get(name) or default.format(flow=flow_id))
            for name, default in FLOW_TEMPLATES.items()}


_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: Any) -> float:
    """`90s`, `30m`, `12h`, `3d` or `2w` as seconds; ValueError otherwise."""
    match = _DURATION.fullmatch(str(text).strip().lower())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration such as 3d, 12h or 2w")
    return float(int(match.group(1)) * _SECONDS[match.group(2)])


def _followups(flow_id: str, raw: Any, path: Path) -> FollowupSpec | None:
    """`followups: {kinds: {id: {label, delay, template, start}}, consent_version, ...}`."""
    if raw is None:
        return None
    where = "followups"
    if not isinstance(raw, dict) or not isinstance(raw.get("kinds"), dict) or not raw["kinds"]:
        raise FlowError(f"{path}: {where}: field 'kinds' must be a non-empty mapping")
    kinds = {}
    for kind_id, spec in raw["kinds"].items():
        at = f"{where} kind {kind_id!r}"
        if not isinstance(spec, dict):
            raise FlowError(f"{path}: {at}: must be a mapping")
        try:
            delay = parse_duration(required(spec, "delay", path, at))
        except ValueError as error:
            raise FlowError(f"{path}: {at}: field 'delay': {error}") from None
        kinds[str(kind_id)] = FollowupKind(
            id=str(kind_id),
            label=str(required(spec, "label", path, at)),
            delay=delay,
            template=str(spec.get("template", f"{flow_id}/followup_{kind_id}.j2")),
            start=str(required(spec, "start", path, at)),
            synonyms=tuple(str(s).lower() for s in spec.get("synonyms") or ()),
        )
    limit = raw.get("max_per_person", 3)
    if not isinstance(limit, int) or limit < 1:
        raise FlowError(f"{path}: {where}: field 'max_per_person' must be a whole number >= 1")
    return FollowupSpec(
        kinds=kinds,
        offer_template=str(raw.get("offer_template", f"{flow_id}/followup_offer.j2")),
        consent_version=str(required(raw, "consent_version", path, where)),
        max_per_person=limit,
        carry={str(k): str(v) for k, v in (raw.get("carry") or {}).items()},
        progress={str(k): str(v) for k, v in (raw.get("progress") or {}).items()},
    )


def _consent(raw: Any, path: Path) -> ConsentSpec | None:
    """`consent: {asked_in: state, to: [contacted, stored], version: "2"}`."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise FlowError(f"{path}: field 'consent' must be a mapping")
    to = raw.get("to") or ()
    if not isinstance(to, list):
        raise FlowError(f"{path}: consent: field 'to' must be a list")
    return ConsentSpec(
        asked_in=str(required(raw, "asked_in", path, "consent")),
        to=tuple(str(kind) for kind in to),
        version=str(required(raw, "version", path, "consent")),
    )


def _drivers(raw: Any, path: Path) -> dict[str, Driver]:
    """Drivers as a list of ids, or a mapping of id -> title, named_at, checks, tie_break."""
    if not raw:
        return {}
    if isinstance(raw, list):
        return {str(d): Driver(str(d), str(d)) for d in raw}
    if not isinstance(raw, dict):
        raise FlowError(f"{path}: field 'drivers' must be a list or a mapping")
    drivers = {}
    for driver_id, spec in raw.items():
        spec = spec or {}
        tie_break = {str(k): tuple(v or ()) for k, v in (spec.get("tie_break") or {}).items()}
        drivers[str(driver_id)] = Driver(
            id=str(driver_id),
            title=str(spec.get("title", driver_id)),
            named_at=int(spec.get("named_at", 2)),
            checks=tuple(spec.get("checks") or ()),
            tie_break=tie_break,
        )
    return drivers


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
        next=str(spec.get("next", "")),
        ask_if=conditions(spec.get("ask_if"), path, where),
        loaded=bool(spec.get("loaded", False)),
        multi=spec.get("select") == "many",
        fact=str(spec.get("fact", "")),
        outcome=bool(spec.get("outcome", True)),
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
                exclusive=option.exclusive,
                style=str(change.get("style", option.style)),
            )
        )
    return tuple(built)


def _option(item: dict[str, Any], path: Path, where: str) -> Option:
    if not isinstance(item, dict):
        raise FlowError(f"{path}: {where}: each option must be a mapping")
    option_id = str(required(item, "id", path, f"{where} option"))
    return Option(
        id=option_id,
        label=str(required(item, "label", path, f"{where} option {option_id!r}")),
        next=str(item.get("next", "")),
        scores={str(k): int(v) for k, v in (item.get("scores") or {}).items()},
        facts=dict(item.get("facts") or {}),
        synonyms=tuple(str(s).lower() for s in item.get("synonyms") or ()),
        exclusive=bool(item.get("exclusive", False)),
        style=str(item.get("style") or ""),
    )


def _input(item: dict[str, Any], path: Path, where: str) -> Input:
    return Input(
        fact=str(required(item, "fact", path, f"{where} input")),
        type=item.get("type", "text"),
        minimum=item.get("min"),
        maximum=item.get("max"),
        max_length=int(item.get("max_length", 200)),
        next=str(required(item, "next", path, f"{where} input")),
    )


def _condition(item: dict[str, Any], path: Path, where: str) -> Condition:
    when = item.get("when") or {}
    return condition_test(when, str(required(item, "next", path, f"{where} route")), path, where)
