"""`python -m bot check`: validate every flow and template before anyone talks to the bot."""

from __future__ import annotations

import stat
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import TemplateError, meta

from bot.core.conversation import Answer, Conversation
from bot.core.events import encode_choice
from bot.core.records import CONSENT_KINDS
from bot.engine.commands import Commands
from bot.engine.compose import LINK_TARGETS
from bot.engine.flow import DONE_CHOICE, URGENCIES, Flow, State
from bot.engine.stepper import ACTIONS, LEAD_FIELDS
from bot.tools.check_shown import check_shown
from bot.tools.check_spec import check_spec
from bot.tools.problem import Problem
from bot.turns.runner import TurnRunner

__all__ = ["Problem", "check_all", "check_data_folder", "check_flow"]

TELEGRAM_CALLBACK_BYTES = 64
DISCORD_CUSTOM_ID_CHARS = 100
CHANNEL_PREFIX_ROOM = 8  # channels may prefix payloads, e.g. "kc:"
LARGEST_TURN = 10**9
LABEL_LIMIT = 80
MENU_DESCRIPTION_LIMIT = 100  # Discord's slash-command description; Telegram allows 256
MESSAGE_LIMIT = 4096
COMMON_TEMPLATES = (
    "common/labels", "common/unsupported", "common/unknown_command", "common/reask",
    "common/finished", "common/nothing_to_undo", "common/cancelled", "common/stale",
    "common/forget_confirm", "common/forgotten", "common/kept", "common/help", "common/about",
    "common/book", "common/youtube", "common/podcast", "common/talk_requested",
    "common/staff_message", "common/relay_ended", "staff/lead", "staff/talk_request",
    "staff/relay_message", "staff/relay_ended", "common/resumed",
    "common/talk_unavailable", "common/pick_one",
    "common/book_after_red_flag", "common/mydata", "common/withdrawn", "staff/forgotten",
    "staff/consent_withdrawn", "common/remind_unavailable", "common/remind_set",
    "common/remind_declined", "common/remind_stopped", "staff/checkin", "web/errors",
    "web/page",
)
# What /mydata is shown, for checking common/mydata.j2 (bot/engine/privacy.py `describe`).
_SAMPLE_ANSWER = {"question_id": "who", "question": "Who", "answer_id": "me", "answer": "Me",
                  "typed": False}
SAMPLE_DATA = {
    "channel": "check", "user_id": "check",
    "conversation": {"flow": "knee", "flow_title": "Knee pain check", "question": "who",
                     "finished": False, "source": "instagram", "talking_with_staff": False,
                     "started_at": "2025-01-01T10:00:00+00:00",
                     "updated_at": "2025-01-01T10:05:00+00:00", "answers": [_SAMPLE_ANSWER]},
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
}
INPUT_SAMPLES: dict[str, object] = {
    "number": 7, "name": "Sam", "email_or_phone": {"email": "sam@example.com"}, "text": "text",
}
SAMPLE_EXTRAS = {
    "name": "x", "too_long": True, "input_type": "number", "was_in_flow": True,
    "already": False, "text": "hello", "offers_booking": True,
    "outcome": {"drivers": ["hip_mobility"]},
    "lead": {"name": "Sam", "email": "sam@example.com", "phone": "", "source": "knee"},
    "data": SAMPLE_DATA, "nothing": False, "withdrawn": True,
    "asked_at": ["2025-01-01T10:06:00+00:00"],
    "reason": "cap", "kind": "check_in", "when": datetime(2025, 1, 15, 9, 0, tzinfo=UTC),
    "stopped": 2,
    "progress": {"before": 6, "after": 4, "difference": -2, "check": "hip_squat",
                 "check_change": "better"},
}
# Data folder modes that let other users of the host read people's answers.
READABLE_BY_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def check_all(engine: TurnRunner) -> list[Problem]:
    """Every problem in every flow, its templates, the common templates and the settings."""
    problems = _check_common(engine) + _check_commands(engine) + check_shown(engine)
    for flow in engine.flows.values():
        problems += check_flow(engine, flow)
    problems += [
        Problem("settings", "", f"practice.{name}", "still a placeholder address", warning=True)
        for name in engine.settings.practice.placeholders()
    ]
    problems += check_data_folder(engine.settings.data_dir, engine.settings.database_path)
    if engine.settings.public_url and engine.settings.link_secret is None:
        problems.append(Problem("settings", "", "link_secret", "not set: link clicks made "
                                "before a restart may be counted twice", warning=True))
    if engine.settings.default_flow not in engine.flows:
        problems.append(
            Problem(
                "settings", "", "default_flow", f"unknown flow {engine.settings.default_flow!r}"
            )
        )
    return problems


def _check_commands(engine: TurnRunner) -> list[Problem]:
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
                                    f"over {MENU_DESCRIPTION_LIMIT} (Discord's limit)"))
    return problems


def check_flow(engine: TurnRunner, flow: Flow) -> list[Problem]:
    """Structure, reachability, buttons and templates of one flow."""
    file = str(flow.path)
    problems: list[Problem] = []
    if flow.start not in flow.states:
        problems.append(Problem(file, "", "start", f"unknown state {flow.start!r}"))
    for state in flow.states.values():
        problems += _check_state(flow, state, engine.commands)
        problems += _check_templates(engine, flow, state)
    problems += _check_reachable(flow)
    problems += _check_safety(flow)
    problems += _check_drivers(flow)
    problems += _check_clinical(flow)
    problems += check_spec(flow, engine.renderer.exists)
    problems += _check_lead(flow)
    problems += _check_consent(flow)
    problems += _check_followups(engine, flow)
    return problems


def _check_followups(engine: TurnRunner, flow: Flow) -> list[Problem]:
    """Each follow-up starts at a state of the flow, with its templates there; what the
    check-in compares names facts the flow sets; something shows the offer (`remind`)."""
    spec, file = flow.followups, str(flow.path)
    if spec is None:
        if any(s.action == "record_progress" for s in flow.states.values()):
            return [Problem(file, "", "followups", "a state records progress but the flow "
                            "declares no `followups:`")]
        return []
    problems = []
    for kind in spec.kinds.values():
        if kind.start not in flow.states:
            problems.append(Problem(file, "", f"followups.kinds.{kind.id}.start",
                                    f"unknown state {kind.start!r}"))
        if not engine.renderer.exists(kind.template):
            problems.append(Problem(file, "", f"followups.kinds.{kind.id}.template",
                                    f"template {kind.template} does not exist"))
    if not engine.renderer.exists(spec.offer_template):
        problems.append(Problem(file, "", "followups.offer_template",
                                f"template {spec.offer_template} does not exist"))
    asked = {s.input.fact for s in flow.states.values() if s.input is not None}
    for field_name, fact in spec.carry.items():
        if fact not in asked and not any(fact in o.facts for s in flow.states.values()
                                         for o in s.options):
            problems.append(Problem(file, "", f"followups.carry.{field_name}",
                                    f"no question sets {fact!r}"))
    if not any("remind" in s.commands for s in flow.states.values()):
        problems.append(Problem(file, "", "followups", "no state offers them: add `remind` "
                                "to the `commands` of a result state", warning=True))
    return problems


def check_data_folder(folder: Path, database: Path) -> list[Problem]:
    """Warn when other users of the host can read the data folder or the database files."""
    problems = []
    for path in (folder, database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        try:
            mode = path.stat().st_mode
        except OSError:
            continue  # not made yet: the bot creates it readable by its own user alone
        if mode & READABLE_BY_OTHERS:
            fix = "chmod 700" if path == folder else "chmod 600"
            problems.append(Problem("settings", "", "data_dir", f"{path} can be read by other "
                                    f"users of this host (mode {stat.S_IMODE(mode):o}); run "
                                    f"`{fix} {path}`", warning=True))
    return problems


def _check_consent(flow: Flow) -> list[Problem]:
    """A flow that saves a lead says what the "yes" agrees to, where it is asked, and the
    version of those words."""
    file, consent = str(flow.path), flow.consent
    saves = any(s.action == "save_lead" for s in flow.states.values())
    if consent is None:
        return [Problem(file, "", "consent", "states save a lead but `consent:` is missing "
                        "(what the person agrees to, where, and the wording's version)")
                ] if saves else []
    problems = []
    if consent.asked_in not in flow.states:
        problems.append(Problem(file, "", "consent.asked_in",
                                f"unknown state {consent.asked_in!r}"))
    unknown = [kind for kind in consent.to if kind not in CONSENT_KINDS]
    if unknown or not consent.to:
        problems.append(Problem(file, "", "consent.to", f"must list what is agreed to, of "
                                f"{CONSENT_KINDS}; unknown: {unknown}"))
    return problems


LEAD_ACTIONS = ("save_lead", "discard_lead")


def _check_lead(flow: Flow) -> list[Problem]:
    """A flow that saves leads maps known lead fields to facts its questions ask for."""
    file, problems = str(flow.path), []
    asked = {s.input.fact for s in flow.states.values() if s.input is not None}
    for name, fact in flow.lead.items():
        if name not in LEAD_FIELDS:
            problems.append(Problem(file, "", f"lead.{name}", f"unknown lead field; one of "
                                    f"{LEAD_FIELDS}"))
        if fact not in asked:
            problems.append(Problem(file, "", f"lead.{name}", f"no question asks for {fact!r}"))
    if not flow.lead and any(s.action in LEAD_ACTIONS for s in flow.states.values()):
        problems.append(Problem(file, "", "lead", "states act on a lead but `lead:` is empty"))
    return problems


def _targets(state: State) -> list[tuple[str, str]]:
    """Every (field, state) a state can lead to."""
    if state.multi:
        found = [("next", state.next)]
    else:
        found = [(f"options.{option.id}.next", option.next) for option in state.options]
    if state.input is not None:
        found.append(("input.next", state.input.next))
    if state.ask_if or state.loaded:
        found.append(("next", state.next))
    found += [(f"route[{i}].next", c.next) for i, c in enumerate(state.route)]
    return found


def _check_state(flow: Flow, state: State, engine_commands: Commands) -> list[Problem]:
    file, problems = str(flow.path), []
    for field, target in _targets(state):
        if target not in flow.states:
            problems.append(Problem(file, state.id, field, f"unknown target state {target!r}"))
    if not state.final and not _targets(state):
        problems.append(Problem(file, state.id, "options", "no way forward (not final)"))
    if state.final and _targets(state):
        problems.append(Problem(file, state.id, "final", "a final state cannot lead on"))
    if state.route and state.route[-1].conditional:
        problems.append(Problem(file, state.id, "route", "last route needs no `when`"))
    problems += _check_multi(flow, state)
    seen: set[str] = set()
    for option in state.options:
        problems += _check_option(flow, state, option.id, option.label, seen)
        for key in list(option.scores):
            if key not in flow.score_keys:
                problems.append(
                    Problem(
                        file,
                        state.id,
                        f"options.{option.id}.scores",
                        f"unknown score {key!r} (declare it in drivers/counters)",
                    )
                )
        seen.add(option.id)
    if state.red_flag and state.urgency not in URGENCIES:
        problems.append(Problem(file, state.id, "urgency", f"must be one of {URGENCIES}"))
    for link in state.links:
        if link not in LINK_TARGETS:
            problems.append(Problem(file, state.id, "links", f"unknown link {link!r}"))
    for command in state.commands:
        if engine_commands.get(command) is None:
            problems.append(Problem(file, state.id, "commands", f"unknown command {command!r}"))
    if state.action and state.action not in ACTIONS:
        problems.append(Problem(file, state.id, "action", f"unknown action {state.action!r}"))
    return problems


def _check_multi(flow: Flow, state: State) -> list[Problem]:
    """A multi-select needs somewhere to go when done, and options that can be combined."""
    file, problems = str(flow.path), []
    exclusive = [option.id for option in state.options if option.exclusive]
    if not state.multi:
        if exclusive:
            problems.append(Problem(file, state.id, "options", "`exclusive` needs `select: many`"))
        return problems
    if not state.next:
        problems.append(Problem(file, state.id, "next", "a multi-select needs `next`"))
    if len(state.options) - len(exclusive) < 2:
        problems.append(
            Problem(file, state.id, "options", "a multi-select needs two options to combine")
        )
    if state.option(DONE_CHOICE) is not None:
        problems.append(
            Problem(file, state.id, "options", f"{DONE_CHOICE!r} is the Done button's id")
        )
    if state.input is not None:
        problems.append(Problem(file, state.id, "input", "a multi-select takes no typed input"))
    return problems


def _check_safety(flow: Flow) -> list[Problem]:
    """Red flags: known urgencies, asked highest urgency first on every path, each reachable
    and ending in a final exit that its "yes" leads to."""
    file, problems = str(flow.path), []
    reachable = _reachable(flow)
    ranks = [flag.rank for flag in flow.red_flags.values()]
    for flag in flow.red_flags.values():
        if flag.urgency not in URGENCIES:
            problems.append(Problem(file, "", f"safety.red_flags.{flag.id}.urgency",
                                    f"must be one of {URGENCIES}"))
        question = flow.states.get(flag.question)
        if question is None or flag.question not in reachable:
            problems.append(Problem(file, flag.question, "safety", "red flag never asked"))
        exit_state = flow.states.get(flag.exit)
        if exit_state is None or not exit_state.final or exit_state.red_flag != flag.id:
            problems.append(Problem(file, flag.exit, "safety", "red flag exit is not final"))
        for state_id in (flag.question, flag.clarify):
            state = flow.states.get(state_id)
            yes = state.option("yes") if state else None
            if yes is None or yes.next != flag.exit:
                problems.append(
                    Problem(file, state_id, "options.yes", f"must lead to {flag.exit!r}")
                )
    if ranks != sorted(ranks):
        problems.append(Problem(file, "", "safety.red_flags",
                                "not in order of urgency, highest first"))
    problems += _check_urgency_on_paths(flow)
    for state in flow.states.values():
        if state.red_flag and state.urgency not in URGENCIES:
            problems.append(Problem(file, state.id, "urgency", f"must be one of {URGENCIES}"))
    return problems


def _check_urgency_on_paths(flow: Flow) -> list[Problem]:
    """On no path may a safety question come after one of lower urgency."""
    rank = {
        state.id: flow.red_flags[state.safety].rank
        for state in flow.states.values()
        if state.safety in flow.red_flags
    }
    seen: set[tuple[str, int]] = set()
    stack = [(flow.start, -1)]  # (state, the lowest urgency asked so far as a rank)
    problems = []
    while stack:
        state_id, lowest = stack.pop()
        if (state_id, lowest) in seen or state_id not in flow.states:
            continue
        seen.add((state_id, lowest))
        if rank.get(state_id, lowest) < lowest:
            problems.append(Problem(str(flow.path), state_id, "safety",
                                    "asked after a question of lower urgency"))
            continue
        lowest = max(lowest, rank.get(state_id, -1))
        stack += [(target, lowest) for _, target in _targets(flow.states[state_id])]
    return problems


def _check_drivers(flow: Flow) -> list[Problem]:
    """Every area can be named by some reachable self-check, and its checks exist."""
    file, problems = str(flow.path), []
    reachable = _reachable(flow)
    for driver in flow.driver_specs.values():
        best = 0
        for state in flow.states.values():
            if state.id not in reachable:
                continue
            gains = [option.scores.get(driver.id, 0) for option in state.options]
            best += sum(gains) if state.multi else max(gains, default=0)
        if best < driver.named_at:
            problems.append(Problem(file, "", f"drivers.{driver.id}",
                                    f"no reachable self-check can reach {driver.named_at}"))
        for check in driver.checks:
            if check not in flow.states:
                problems.append(Problem(file, "", f"drivers.{driver.id}.checks",
                                        f"unknown state {check!r}"))
    return problems


def _check_clinical(flow: Flow) -> list[Problem]:
    """A flow with red flags carries a version and, once signed off, its reviewer."""
    if not flow.red_flags:
        return []
    file, problems = str(flow.path), []
    if not flow.version:
        problems.append(Problem(file, "", "version", "a flow with red flags needs a version"))
    if not flow.reviewed_by:
        problems.append(Problem(file, "", "clinical.reviewed_by",
                                f"the clinical spec ({flow.spec or 'none'}) is not signed off",
                                warning=True))
    return problems


def _check_option(
    flow: Flow, state: State, option_id: str, label: str, seen: set[str]
) -> list[Problem]:
    file, field, problems = str(flow.path), f"options.{option_id}", []
    if option_id in seen:
        problems.append(Problem(file, state.id, field, "duplicate option id"))
    payload = encode_choice(LARGEST_TURN, option_id)
    if len(payload.encode()) + CHANNEL_PREFIX_ROOM > TELEGRAM_CALLBACK_BYTES:
        problems.append(
            Problem(
                file,
                state.id,
                field,
                "id too long for Telegram's 64-byte callback data once encoded",
            )
        )
    if len(payload) + CHANNEL_PREFIX_ROOM > DISCORD_CUSTOM_ID_CHARS:
        problems.append(
            Problem(file, state.id, field, "id too long for Discord's 100-character custom id")
        )
    if len(label) > LABEL_LIMIT:
        problems.append(
            Problem(
                file,
                state.id,
                f"{field}.label",
                f"label is {len(label)} characters, over {LABEL_LIMIT}",
            )
        )
    if not label.strip():
        problems.append(Problem(file, state.id, f"{field}.label", "empty label"))
    return problems


def _reachable(flow: Flow) -> set[str]:
    """States reachable from the start, or from where a follow-up's check-in starts."""
    starts = {flow.start} | {k.start for k in (flow.followups.kinds.values()
                                                 if flow.followups else ())}
    seen, queue = set(starts), deque(starts)
    while queue:
        state = flow.states.get(queue.popleft())
        for _, target in _targets(state) if state else ():
            if target in flow.states and target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _check_reachable(flow: Flow) -> list[Problem]:
    seen = _reachable(flow)
    return [
        Problem(str(flow.path), state_id, "states", "unreachable from the start state")
        for state_id in flow.states
        if state_id not in seen
    ]


def _check_templates(engine: TurnRunner, flow: Flow, state: State) -> list[Problem]:
    if state.route:
        return []  # routing states are never shown
    file = str(engine.renderer.directory / state.template)
    if not engine.renderer.exists(state.template):
        return [Problem(str(flow.path), state.id, "template", f"missing template {file}")]
    return _check_renders(engine, file, state.template, _sample_conversations(flow, state))


def _check_common(engine: TurnRunner) -> list[Problem]:
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


def _sample_conversations(flow: Flow, state: State) -> list[Conversation]:
    """Conversations that take a template's branches: empty, every driver scored, all unsure."""

    def make(scores: dict[str, int], facts: dict[str, object], answer: str) -> Conversation:
        conv = Conversation(
            "check", "check", flow=flow.id, state=state.id, scores=scores, facts=facts
        )
        conv.history = [Answer(s, answer) for s in flow.states]
        return conv

    every = {driver: index + 1 for index, driver in enumerate(flow.drivers)}
    typed = {
        state.input.fact: INPUT_SAMPLES.get(state.input.type, "text")
        for state in flow.states.values()
        if state.input is not None
    }
    chosen = {k: v for s in flow.states.values() for o in s.options for k, v in o.facts.items()}
    return [
        make({}, typed, "no"),
        make(every, {**chosen, **typed}, "unsure"),
        make({key: 10 for key in flow.score_keys}, {**chosen, **typed}, "yes"),
    ]
