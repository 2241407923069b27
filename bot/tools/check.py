"""`python -m bot check`: validate every flow and template before anyone talks to the bot.

The rules are kept by idea: a flow's shape (check_paths.py), its safety and clinical content
(check_safety.py), what it keeps about a person (check_records.py), templates
(check_templates.py), what a person is shown around the questions (check_shown.py), all
within every channel's limits (check_limits.py).
"""

from __future__ import annotations

import stat
from pathlib import Path

from bot.engine.flow import Flow
from bot.settings.emergency import FALLBACK, known_region
from bot.tools.check_paths import check_reachable, check_state
from bot.tools.check_records import check_consent, check_followups, check_lead
from bot.tools.check_safety import check_clinical, check_drivers, check_safety
from bot.tools.check_shown import check_shown
from bot.tools.check_spec import check_spec
from bot.tools.check_templates import (
    check_commands,
    check_common,
    check_shared_templates,
    check_templates,
    check_unused_templates,
)
from bot.tools.problem import Problem
from bot.turns.runner import TurnRunner

__all__ = ["Problem", "check_all", "check_data_folder", "check_flow"]

# Data folder modes that let other users of the host read people's answers.
READABLE_BY_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def check_all(engine: TurnRunner) -> list[Problem]:
    """Every problem in every flow, its templates, the common templates and the settings."""
    problems = check_common(engine) + check_commands(engine) + check_shown(engine)
    problems += check_shared_templates(engine)
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
    chat = engine.settings.web_chat
    if chat.enabled and not chat.emergency_number and not known_region(
            engine.settings.phone_region):
        problems.append(Problem(
            "settings", "", "web_chat.emergency_number", "not set, and phone_region "
            f"{engine.settings.phone_region!r} has no number listed: urgent advice offers "
            f"{FALLBACK}", warning=True))
    if engine.settings.default_flow not in engine.flows:
        problems.append(
            Problem(
                "settings", "", "default_flow", f"unknown flow {engine.settings.default_flow!r}"
            )
        )
    return problems


def check_flow(engine: TurnRunner, flow: Flow) -> list[Problem]:
    """Structure, reachability, buttons and templates of one flow."""
    file = str(flow.path)
    problems: list[Problem] = []
    if flow.start not in flow.states:
        problems.append(Problem(file, "", "start", f"unknown state {flow.start!r}"))
    for state in flow.states.values():
        problems += check_state(flow, state, engine.commands)
        problems += check_templates(engine, flow, state)
    problems += check_unused_templates(engine, flow)
    problems += check_reachable(flow)
    problems += check_safety(flow)
    problems += check_drivers(flow)
    problems += check_clinical(flow)
    problems += check_spec(flow, engine.renderer.exists)
    problems += check_lead(flow)
    problems += check_consent(flow)
    problems += check_followups(engine, flow)
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
