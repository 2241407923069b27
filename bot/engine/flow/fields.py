"""Reading the fields every part of a flow file shares: a required field, and the tests of
`ask_if`, `raised_if` and routes. Mistakes raise FlowError naming file and place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.engine.flow.model import Condition, FlowError


def required(raw: dict[str, Any], key: str, path: Path, where: str) -> Any:
    if raw.get(key) in (None, ""):
        raise FlowError(f"{path}: {where}: field {key!r} is missing")
    return raw[key]


def conditions(raw: Any, path: Path, where: str) -> tuple[Condition, ...]:
    """`ask_if`: one test or a list of tests, all of which must hold."""
    if not raw:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    return tuple(condition_test(item, "", path, f"{where} ask_if") for item in items)


def condition_test(when: Any, next_state: str, path: Path, where: str) -> Condition:
    if not isinstance(when, dict):
        raise FlowError(f"{path}: {where}: a condition must be a mapping")
    empty = when.get("empty")
    return Condition(
        next=next_state,
        fact=when.get("fact"),
        score=when.get("score"),
        equals=when.get("equals"),
        one_of=tuple(when.get("one_of") or ()),
        at_least=when.get("at_least"),
        empty=None if empty is None else bool(empty),
        no_driver_named=bool(when.get("no_driver_named", False)),
    )
