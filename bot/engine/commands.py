"""The command registry: every command once, from dialogs/commands.yaml and each flow's `entry`.

The engine resolves commands and command words with it; `check` validates it; channels build
their menus (Telegram's command list, Discord's slash commands) and deep links from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.core.channels import CHANNELS
from bot.engine.flow import COMMANDS_FILE, Flow, FlowError, FlowLoader

ACTIONS = ("start", "restart", "back", "stop", "forget", "talk", "info", "flow", "mydata",
           "withdraw", "remind", "stop_reminders")
# What a command may need of a channel (bot/core/channels.py ChannelSpec's capabilities): where
# one is missing, the command's button is not offered.
CAPABILITIES = ("buttons", "edits", "later_messages")
_NAME = re.compile(r"[a-z0-9_]{1,32}")  # what Telegram and Discord both accept
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True, slots=True)
class Command:
    """One command: what it does, the words that trigger it, where it is offered."""

    name: str
    action: str
    aliases: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    anywhere: tuple[str, ...] = ()
    deep_link: bool = False
    menu: tuple[str, ...] = ()
    groups: bool = False  # a group chat's menu shows it too (it moves the person to a DM)
    link: str = ""
    flow: str = ""  # for a flow's entry command: the flow it opens
    description: str = ""  # for a flow's entry command; the others are in a template
    needs: tuple[str, ...] = ()  # what a channel must do for it (CAPABILITIES)

    @property
    def opens_flow(self) -> bool:
        """It starts (or resumes) a screening, so a channel takes the person somewhere private."""
        return bool(self.flow) or self.action in ("start", "restart")


class Commands:
    """Every command, by name and alias, and the words that mean one."""

    def __init__(self, commands: list[Command], default_flow: str = "") -> None:
        self.all = tuple(commands)
        self.default_flow = default_flow
        self._by_name: dict[str, Command] = {}
        for command in commands:
            for name in (command.name, *command.aliases):
                self._by_name[name] = command
        self._words = {w: c for c in commands for w in c.words}
        self._anywhere = {w: c for c in commands for w in c.anywhere}

    def offered_on(self, name: str, channel: str) -> bool:
        """Whether a state's button for this command is shown on this channel: not where the
        channel cannot do what the command needs (no check-ins where later messages cannot
        arrive). A name that is no command, or a channel not registered, is not held back."""
        command, spec = self.get(name), CHANNELS.get(channel)
        if command is None or spec is None:
            return True
        return all(getattr(spec, need) for need in command.needs)

    def get(self, name: str) -> Command | None:
        """The command a /name (or an alias) means."""
        return self._by_name.get(name.lower())

    def names(self) -> set[str]:
        """Every /name the bot answers, aliases included."""
        return set(self._by_name)

    def in_text(self, normalized: str, longest: int) -> Command | None:
        """A command asked for in words: a whole message, or a keyword in a short one."""
        if normalized in self._words:
            return self._words[normalized]
        if len(normalized) > longest:
            return None
        for word in _WORD.findall(normalized):
            if word in self._anywhere:
                return self._anywhere[word]
        return None

    def for_menu(self, channel: str, groups: bool = False) -> list[Command]:
        """The commands a channel's menu shows (in group chats, only those marked `groups`):
        start, the flows' entries, then the rest in file order."""
        shown = [c for c in self.all if channel in c.menu and (c.groups or not groups)]
        return sorted(shown, key=lambda c: (0 if c.action == "start" else 1 if c.flow else 3)
                      + (c.flow != self.default_flow if c.flow else 0))

    def deep_links(self) -> set[str]:
        """Names that may arrive as a start payload."""
        return {c.name for c in self.all if c.deep_link}

    def entry_of(self, flow_id: str) -> Command | None:
        """A flow's first entry command."""
        return next((c for c in self.all if c.flow == flow_id), None)


def load_commands(directory: Path, flows: dict[str, Flow], default_flow: str = "") -> Commands:
    """The built-in commands of `commands.yaml`, then each flow's entry commands."""
    path = directory / COMMANDS_FILE
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=FlowLoader) if path.exists() else {}
    items = (raw or {}).get("commands") or {}
    if not isinstance(items, dict):
        raise FlowError(f"{path}: field 'commands' must map a name to its settings")
    commands = [_command(str(name), spec or {}, path) for name, spec in items.items()]
    for flow in flows.values():
        commands += _entry_commands(flow)
    seen: dict[str, str] = {}
    for command in commands:
        for name in (command.name, *command.aliases):
            if not _NAME.fullmatch(name):
                raise FlowError(f"{path}: command {name!r}: use 1-32 of a-z, 0-9 and _")
            if name in seen:
                raise FlowError(f"command {name!r} is defined twice ({seen[name]})")
            seen[name] = command.flow or "commands.yaml"
    return Commands(commands, default_flow)


def _command(name: str, spec: dict[str, Any], path: Path) -> Command:
    action = str(spec.get("action", ""))
    if action not in ACTIONS or action == "flow":
        raise FlowError(f"{path}: command {name!r}: field 'action' must be one of "
                        f"{[a for a in ACTIONS if a != 'flow']}")
    needs = tuple(str(n) for n in spec.get("needs") or ())
    if any(need not in CAPABILITIES for need in needs):
        raise FlowError(f"{path}: command {name!r}: field 'needs' may name only {CAPABILITIES}")
    return Command(
        name=name,
        action=action,
        aliases=tuple(str(a) for a in spec.get("aliases") or ()),
        words=tuple(str(w).lower() for w in spec.get("words") or ()),
        anywhere=tuple(str(w).lower() for w in spec.get("anywhere") or ()),
        deep_link=bool(spec.get("deep_link", False)),
        menu=tuple(spec.get("menu") or ()),
        groups=bool(spec.get("groups", False)),
        link=str(spec.get("link") or ""),
        needs=needs,
    )


def _entry_commands(flow: Flow) -> list[Command]:
    """`entry.commands`: a list of names, or a mapping of name -> the menus that show it."""
    entry = flow.entry
    names = entry.get("commands") or [flow.id]
    menus = names if isinstance(names, dict) else {name: () for name in names}
    words = tuple(str(w).lower() for w in entry.get("words") or ())
    return [
        Command(
            name=str(name),
            action="flow",
            words=words if index == 0 else (),
            deep_link=bool(entry.get("deep_link", False)),
            menu=tuple(menu or ()),
            groups=bool(entry.get("groups", False)),
            flow=flow.id,
            description=str(entry.get("description") or flow.title),
        )
        for index, (name, menu) in enumerate(menus.items())
    ]
