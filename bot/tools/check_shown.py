"""`check`'s rules on what a person is shown around the questions: button labels a screen
reader reads as words, button styles, Telegram's profile texts and its group chats' menu."""

from __future__ import annotations

from bot.core.channels import TELEGRAM
from bot.core.conversation import Conversation
from bot.core.events import PRIMARY, STYLES
from bot.core.markup import plain
from bot.engine.flow import Flow
from bot.tools.problem import Problem
from bot.turns.runner import TurnRunner

# Characters a screen reader reads out by name ("slash", "right-pointing double angle
# quotation mark") where a sighted person sees a separator: a label says it in words.
READ_ALOUD = ("/", "»")
LABEL_TEMPLATES = ("common/labels.j2", "discord/labels.j2", "telegram/private_button.j2")


def check_shown(engine: TurnRunner) -> list[Problem]:
    """Labels, styles, profile texts and the group menu."""
    problems = _check_label_templates(engine) + _check_profile(engine) + _check_groups(engine)
    for flow in engine.flows.values():
        problems += _check_flow_buttons(flow)
    return problems


def read_aloud(label: str) -> str:
    """What a screen reader would spell out in a label, "" when it reads as words."""
    found = " and ".join(repr(c) for c in READ_ALOUD if c in label)
    return f"{found} is read out by screen readers: use words" if found else ""


def _check_flow_buttons(flow: Flow) -> list[Problem]:
    """Each option's label reads as words; each style is known; one expected answer at most."""
    file, problems = str(flow.path), []
    for state in flow.states.values():
        for option in state.options:
            field = f"options.{option.id}"
            spoken = read_aloud(option.label)
            if spoken:
                problems.append(Problem(file, state.id, f"{field}.label", spoken))
            if option.style and option.style not in STYLES:
                problems.append(Problem(file, state.id, f"{field}.style",
                                        f"unknown style {option.style!r}; one of {STYLES}"))
        expected = [o.id for o in state.options if o.style == PRIMARY]
        if len(expected) > 1:
            problems.append(Problem(file, state.id, "options", f"{len(expected)} options have "
                                    f"`style: {PRIMARY}` {expected}: one expected answer at most"))
    return problems


def _check_label_templates(engine: TurnRunner) -> list[Problem]:
    """The labels templates set (link buttons, the forget confirmation, Done, the start and
    private-chat buttons) read as words."""
    problems = []
    context = engine.compose.context(Conversation("check", "check"))
    for template in LABEL_TEMPLATES:
        if not engine.renderer.exists(template):
            continue  # a missing template is reported where it is used
        file = str(engine.renderer.directory / template)
        module = engine.renderer.names(template, **context, entry=None)
        labels = {name: value for name, value in vars(module).items()
                  if isinstance(value, str) and not name.startswith("_")}
        if not labels:  # a template that is one label
            labels = {"label": plain(str(module))}
        for name, label in labels.items():
            spoken = read_aloud(label)
            if spoken:
                problems.append(Problem(file, "", name, spoken))
    return problems


def _check_profile(engine: TurnRunner) -> list[Problem]:
    """Telegram's description and short description exist and fit its limits."""
    problems = []
    for template, limit in TELEGRAM.profile_limits.items():
        file = str(engine.renderer.directory / template)
        if not engine.renderer.exists(template):
            problems.append(Problem(file, "", "template", "missing Telegram profile template"))
            continue
        text = plain(engine.notice(template, channel=TELEGRAM.name))
        if len(text) > limit:
            problems.append(Problem(file, "", "template", f"renders {len(text)} characters, "
                                    f"over Telegram's {limit}"))
        elif not text.strip():
            problems.append(Problem(file, "", "template", "renders empty"))
    return problems


def _check_groups(engine: TurnRunner) -> list[Problem]:
    """A command a group's menu shows arrives in the private chat it moves the person to."""
    problems = []
    for command in engine.commands.all:
        if not command.groups:
            continue
        file = str(command.flow and engine.flows[command.flow].path) or "dialogs/commands.yaml"
        where = f"commands.{command.name}.groups"
        if not command.menu:
            problems.append(Problem(file, "", where, "shown in group chats but in no menu"))
        elif not (command.deep_link or command.opens_flow):
            problems.append(Problem(file, "", where, "a group's menu shows it, but it does not "
                                    "carry over to the private chat: set `deep_link: true`"))
    return problems
