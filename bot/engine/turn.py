"""What one event produced inside the engine, before it becomes a Reply."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.effects import Effect
from bot.core.events import Message


@dataclass(slots=True)
class Turn:
    """The messages, effects and flags of one event (the engine and its helpers build it)."""

    messages: list[Message] = field(default_factory=list)
    stale: bool = False
    applied: bool = False
    answered: str = ""
    forgotten: bool = False
    effects: list[Effect] = field(default_factory=list)
    edit: bool = False  # the one message replaces the pressed one (a multi-select pick)
    privacy: str = ""  # mydata | withdraw: finished against the store, under the person's lock
    reminders: str = ""  # offer | stop | a follow-up kind: decided against the store, likewise
