"""Reading a flow's `safety` block: its urgency table and its red flags, each expanded into a
question, a plain follow-up after "Not sure" and an exit with its advice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.engine.flow.fields import conditions, required
from bot.engine.flow.model import UNSURE, YES, Condition, FlowError, Option, RedFlag, State


def load_safety(
    flow_id: str,
    raw: Any,
    option_sets: dict[str, tuple[Option, ...]],
    states: dict[str, State],
    path: Path,
) -> tuple[dict[str, RedFlag], dict[str, bool]]:
    """Expand the `safety` block into states; the red flags, and the urgency table (urgency ->
    whether a "not sure" at that level is acted on at once), highest urgency first.

    The questions are chained in the order written; `check` insists that order puts the highest
    urgency first. "Yes" goes to the flag's exit, "Not sure" to the clarification, whose own
    "Not sure" moves on and leaves the flag unresolved.
    """
    if not raw:
        return {}, {}
    where = "safety"
    entry = str(required(raw, "state", path, where))
    after = str(required(raw, "next", path, where))
    answers = option_sets.get(str(raw.get("use", "yes_no_unsure")))
    if not answers:
        raise FlowError(f"{path}: {where}: field 'use' must name an option set of yes/no/unsure")
    urgencies = _urgencies(raw.get("urgencies"), path)
    items = raw.get("red_flags")
    if not isinstance(items, list) or not items:
        raise FlowError(f"{path}: {where}: field 'red_flags' must be a non-empty list")
    templates = raw.get("templates") or {}
    flags = [_red_flag(item, list(urgencies), path) for item in items]
    following = [flag.question for flag in flags[1:]] + [after]
    for flag, next_state in zip(flags, following, strict=True):
        for state_id in (flag.question, flag.clarify, flag.exit):
            if state_id in states:
                raise FlowError(f"{path}: {where}: red flag {flag.id!r} makes state "
                                f"{state_id!r}, which the flow already has")
        common = {"section": "safety", "safety": flag.id, "next": next_state,
                  "urgency": flag.urgency}
        states[flag.question] = State(
            id=flag.question,
            template=templates.get("question", f"{flow_id}/safety_question.j2"),
            options=_answers(answers, {YES: flag.exit, UNSURE: flag.clarify}, next_state),
            # Raised only: asked never. Asked and raised: asked where `raised_if` fails.
            ask_if=flag.ask_if or flag.raised_if,
            raised_if=flag.raised_if,
            **common,
        )
        states[flag.clarify] = State(
            id=flag.clarify,
            template=templates.get("clarify", f"{flow_id}/safety_clarify.j2"),
            options=_answers(answers, {YES: flag.exit}, next_state),
            clarify=True,
            **common,
        )
        states[flag.exit] = State(
            id=flag.exit,
            template=templates.get("exit", f"{flow_id}/red_flag.j2"),
            final=True,
            red_flag=flag.id,
            urgency=flag.urgency,
            section="safety",
        )
    states[entry] = State(id=entry, template="", route=(Condition(next=flags[0].question),),
                          section="safety")
    return {flag.id: flag for flag in flags}, urgencies


def _urgencies(raw: Any, path: Path) -> dict[str, bool]:
    """`urgencies: [{id: emergency, act_now: true}, ...]`, highest first."""
    where = "safety: field 'urgencies'"
    if not isinstance(raw, list) or not raw:
        raise FlowError(f"{path}: {where} must be a non-empty list, highest urgency first")
    table: dict[str, bool] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise FlowError(f"{path}: {where}: each urgency must be a mapping")
        urgency = str(required(item, "id", path, where))
        if urgency in table:
            raise FlowError(f"{path}: {where}: {urgency!r} is listed twice")
        table[urgency] = bool(item.get("act_now", False))
    return table


def _red_flag(item: Any, urgencies: list[str], path: Path) -> RedFlag:
    if not isinstance(item, dict):
        raise FlowError(f"{path}: safety: each red flag must be a mapping")
    flag_id = str(required(item, "id", path, "safety red flag"))
    where = f"safety red flag {flag_id!r}"
    urgency = str(required(item, "urgency", path, where))
    return RedFlag(
        id=flag_id,
        urgency=urgency,
        title=str(required(item, "title", path, where)),
        question=f"rf_{flag_id}",
        clarify=f"rf_{flag_id}_clarify",
        exit=f"redflag_{flag_id}",
        ask_if=conditions(item.get("ask_if"), path, where),
        raised_if=conditions(item.get("raised_if"), path, where),
        # An urgency the table lacks ranks last; `check` reports it.
        rank=urgencies.index(urgency) if urgency in urgencies else len(urgencies),
    )


def _answers(
    answers: tuple[Option, ...], targets: dict[str, str], default: str
) -> tuple[Option, ...]:
    return tuple(
        Option(a.id, a.label, targets.get(a.id, default), synonyms=a.synonyms) for a in answers
    )
