"""What the dialog decided for one event, and what it was told to decide it.

The dialog (bot/engine) reads a `Known` and the person's conversation and returns a
`Decision`; the turn runner (bot/turns) saves the conversation, carries out the effects and
queues the messages, all in one store transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.effects import Effect
from bot.core.events import Message
from bot.core.records import Followup


@dataclass(frozen=True, slots=True)
class Known:
    """What the runner read before the dialog decides: the time, and how many of the person's
    messages still wait in the outbox (a typed answer then is not applied: they have not seen
    the question). `followups` and `stored` are read only when a first decision asks for them
    (`Decision.needs`)."""

    now: float
    undelivered: int = 0
    followups: tuple[Followup, ...] | None = None
    stored: dict[str, object] | None = None


# What a decision may need read from the store before it can be finished.
NEEDS_FOLLOWUPS, NEEDS_STORED = "followups", "stored"


@dataclass(slots=True)
class Decision:
    """The messages, effects and flags of one event."""

    messages: list[Message] = field(default_factory=list)
    stale: bool = False
    applied: bool = False
    answered: str = ""
    forgotten: bool = False
    effects: list[Effect] = field(default_factory=list)
    edit: bool = False  # the one message replaces the pressed one (a multi-select pick)
    # The store must be read to finish the decision: the person's check-ins (offer, schedule,
    # stop reminders) or everything stored about them (/mydata, /withdraw).
    needs: str = ""
    reminders: str = ""  # offer | stop | a follow-up kind, finished once `followups` is known
    privacy: str = ""  # mydata | withdraw, finished once `stored` is known
