"""`check`'s rules on templates: each state's and each command's template exists, renders
with sample answers and fits a message, names no variable it is not given; and a shared
template names no flow (a flow's words come from the flow: `start_flow.title`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import TemplateError, meta

from bot.core.conversation import Conversation
from bot.engine.compose import LINK_TARGETS
from bot.engine.flow import Flow, State
from bot.engine.samples import sample_conversations
from bot.tools.check_limits import MENU_DESCRIPTION_LIMIT, MENU_DESCRIPTION_SET_BY, MESSAGE_LIMIT
from bot.tools.problem import Problem
from bot.turns.runner import TurnRunner

# Folders of templates every flow shares. `contact` is a flow too, but one every screening
# offers: its name may be said anywhere; a screening flow's (knee, back, shoulder) may not.
SHARED_FOLDERS = ("common", "contact", "staff", "telegram", "discord", "web")
COMMON_TEMPLATES = (
    "common/labels", "common/unsupported", "common/unknown_command", "common/reask",
    "common/finished", "common/nothing_to_undo", "common/cancelled", "common/stale",
    "common/forget_confirm", "common/forgotten", "common/kept", "common/help", "common/about",
    "common/book", "common/youtube", "common/podcast", "common/talk_requested",
    "common/staff_message", "common/relay_ended", "staff/lead", "staff/talk_request",
    "staff/relay_message", "staff/relay_ended", "common/resumed",
    "common/talk_unavailable", "common/talk_alerted", "common/pick_one",
    "common/book_after_red_flag", "common/mydata", "common/withdrawn", "staff/forgotten",
    "staff/consent_withdrawn", "common/remind_unavailable", "common/remind_set",
    "common/remind_declined", "common/remind_stopped", "staff/checkin", "web/errors",
    "web/page", "common/controls", "web/controls",
)


# What /mydata is shown, for checking common/mydata.j2 (bot/engine/privacy.py `describe`).
_SAMPLE_ANSWER = {"question_id": "who", "question": "Who", "answer_id": "me", "answer": "Me",
                  "typed": False}


SAMPLE_DATA = {
    "channel": "check", "user_id": "check",
    "conversation": {"flow": "knee", "flow_title": "Knee pain check", "question": "who",
                     "finished": False, "source": "instagram", "talking_with_staff": False,
                     "started_at": "2025-01-01T10:00:00+00:00",
                     "updated_at": "2025-01-01T10:05:00+00:00", "answers": [_SAMPLE_ANSWER],
                     "facts": {}},
    "last_screening": {"flow": "knee", "flow_title": "Knee pain check", "flow_version": "2",
                       "result": "result", "likely_contributors": ["Hip mobility"],
                       "drivers": ["hip_mobility"], "red_flag": None, "red_flag_title": "",
                       "urgency": None, "unsure_flags": [], "answers": [_SAMPLE_ANSWER]},
    "events": [{"at": "2025-01-01T10:00:00+00:00", "kind": "started", "flow": "knee",
                "detail": "", "flow_version": ""}] * 25,
    "leads": [{"at": "2025-01-01T10:06:00+00:00", "name": "Sam", "email": "sam@example.com",
               "phone": "", "source": "", "flow": "knee", "drivers": [], "red_flag": None,
               "urgency": None, "flow_version": "2", "consent_version": "2+0123abcd"}],
    "consents": [{"kind": "contacted", "text_version": "2+0123abcd",
                  "given_at": "2025-01-01T10:06:00+00:00", "channel": "check",
                  "withdrawn_at": "2025-01-02T10:00:00+00:00"}],
    "followups": [{"kind": "check_in", "flow": "knee", "due_at": "2025-01-15T09:00:00+00:00",
                   "status": "sent", "asked_at": "2025-01-01T10:06:00+00:00",
                   "kept_to_compare": {"baseline_pain": 6}, "progress": {"after": 4}}],
    "staff_notices": 2,
    "replies_kept": [{"kind": "reply", "text": "Thank you!", "at": "2025-01-01T10:06:00+00:00"}],
    "waiting_messages": [{"kind": kind, "text": "Thank you!", "at": "2025-01-01T10:06:00+00:00"}
                         for kind in ("to you", "staff")],
    "staff_notes": [{"kind": "note", "text": "Called", "at": "2025-01-02T10:00:00+00:00"}],
    "booking_links": [{"flow": "knee", "at": "2025-01-01T10:00:00+00:00"}],
}


SAMPLE_EXTRAS = {
    "name": "x", "too_long": True, "input_type": "number", "was_in_flow": True,
    "already": False, "text": "hello", "offers_booking": True,
    "outcome": {"drivers": ["hip_mobility"]},
    "lead": {"name": "Sam", "email": "sam@example.com", "phone": "", "source": "knee"},
    "data": SAMPLE_DATA, "nothing": False, "withdrawn": True,
    "asked_at": ["2025-01-01T10:06:00+00:00"],
    "reason": "cap", "kind": "check_in", "when": datetime(2025, 1, 15, 9, 0, tzinfo=UTC),
    # staff notices: for a staff room, or without health details (alerts)
    "stopped": 2, "emergency": "911", "health": True, "in_chat": True,
    "minimum": "0", "maximum": "10", "out_of_range": "11", "count": 3,
    "candidates": ["Yes", "No"], "picked": ["Stairs", "Running"], "words": ["skip"],
    "progress": {"before": 6, "after": 4, "difference": -2, "check": "hip_squat",
                 "check_change": "better"},
}


def check_commands(engine: TurnRunner) -> list[Problem]:
    """Every command's template, link and menu description exists and fits the menus."""
    problems, file = [], "dialogs/commands.yaml"
    described = engine.compose.render_names("common/commands.j2")
    for command in engine.commands.all:
        where = f"commands.{command.name}"
        if command.action == "info" and not engine.renderer.exists(f"common/{command.name}.j2"):
            problems.append(Problem(file, "", where, f"missing template common/{command.name}.j2"))
        if command.link and command.link not in LINK_TARGETS:
            problems.append(Problem(file, "", where, f"unknown link {command.link!r}"))
        if not command.menu:
            continue
        about = command.description or getattr(described, command.name, "")
        if not about.strip():
            problems.append(Problem(file, "", where, "shown in a menu but not described in "
                                    "templates/common/commands.j2"))
        elif len(about) > MENU_DESCRIPTION_LIMIT:
            problems.append(Problem(file, "", where, f"description is {len(about)} characters, "
                                    f"over {MENU_DESCRIPTION_LIMIT} "
                                    f"({MENU_DESCRIPTION_SET_BY}'s limit)"))
    return problems


def check_templates(engine: TurnRunner, flow: Flow, state: State) -> list[Problem]:
    if state.route:
        return []  # routing states are never shown
    file = str(engine.renderer.directory / state.template)
    if not engine.renderer.exists(state.template):
        return [Problem(str(flow.path), state.id, "template", f"missing template {file}")]
    return _check_renders(engine, file, state.template, sample_conversations(flow, state))


def check_common(engine: TurnRunner) -> list[Problem]:
    problems = []
    sample = Conversation("check", "check")
    for name in COMMON_TEMPLATES:
        template = f"{name}.j2"
        file = str(engine.renderer.directory / template)
        if not engine.renderer.exists(template):
            problems.append(Problem(file, "", "template", "missing common template"))
            continue
        problems += _check_renders(engine, file, template, [sample], SAMPLE_EXTRAS)
    return problems


def _check_renders(
    engine: TurnRunner,
    file: str,
    template: str,
    conversations: list[Conversation],
    extras: dict[str, object] | None = None,
) -> list[Problem]:
    """Render with StrictUndefined, and list names the template uses but no context has."""
    extras = {**SAMPLE_EXTRAS, **(extras or {})}
    problems = []
    context_names = set(engine.compose.context(conversations[0]))
    known = context_names | set(extras) | set(engine.renderer.env.globals)
    source = Path(file).read_text(encoding="utf-8")
    undeclared = meta.find_undeclared_variables(engine.renderer.env.parse(source)) - known
    for name in sorted(undeclared):
        problems.append(Problem(file, "", "template", f"undefined variable {name!r}"))
    for conversation in conversations:
        try:
            context = engine.compose.context(conversation)
            text = engine.renderer.render(template, **context, **extras)
        except TemplateError as error:
            problems.append(Problem(file, "", "template", f"does not render: {error}"))
            break
        if len(text) > MESSAGE_LIMIT:
            problems.append(
                Problem(
                    file, "", "template", f"renders {len(text)} characters, over {MESSAGE_LIMIT}"
                )
            )
            break
    return problems


def check_shared_templates(engine: TurnRunner) -> list[Problem]:
    """Warn where a shared template names a screening flow (its id, as a word or the start of
    one: "knee", "kneecheck"): what it says of a flow comes from the flow, e.g.
    `{{ start_flow.title }}`, so a new flow needs no edit to the shared words."""
    named = [flow_id for flow_id in engine.flows if flow_id not in SHARED_FOLDERS]
    if not named:
        return []
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, named)) + ")", re.IGNORECASE)
    problems = []
    for folder in SHARED_FOLDERS:
        for path in sorted((engine.renderer.directory / folder).glob("*.j2")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                found = pattern.search(line)
                if found:
                    problems.append(Problem(str(path), "", f"line {number}", f"names the flow "
                                            f"{found.group(1).lower()!r}: shared templates take "
                                            "a flow's words from the flow (e.g. "
                                            "`start_flow.title`)", warning=True))
    return problems


def flow_templates(flow: Flow) -> set[str]:
    """Every template a flow names: its states', its own messages, its check-ins'."""
    named = {state.template for state in flow.states.values() if state.template}
    named |= set(flow.templates.values())
    if flow.followups is not None:
        named |= {kind.template for kind in flow.followups.kinds.values()}
        named.add(flow.followups.offer_template)
    return named


def check_unused_templates(engine: TurnRunner, flow: Flow) -> list[Problem]:
    """Warn of a template in the flow's folder that nothing the flow names shows or includes:
    a state renamed without its template, or words nobody will read."""
    folder = engine.renderer.directory / flow.id
    if not folder.is_dir():
        return []
    used = {name for name in flow_templates(flow) if engine.renderer.exists(name)}
    for name in list(used):
        used |= engine.renderer.uses(name)
    return [Problem(str(path), "", "template", f"not shown by flow {flow.id!r} nor included by "
                    "a template it shows (name it in the flow's `templates:` or a state's "
                    "`template:`, or delete it)", warning=True)
            for path in sorted(folder.glob("*.j2"))
            if f"{flow.id}/{path.name}" not in used]
