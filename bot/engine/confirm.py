""""Did you mean ...?": a typed reply that could mean more than one answer, or names one
weakly, is asked about with the likely answers as buttons instead of refused or guessed.

The question asked is kept on the conversation (`pending`, as `confirm:<id>,<id>`), so the
next press or typed reply answers it; anything else leaves it and is read afresh.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.conversation import Conversation
from bot.engine.compose import NONE_OF_THESE
from bot.engine.flow import NO, YES, Option, State
from bot.engine.understand import OPTION, polarity_of, read

PENDING = "confirm:"


def ask(conv: Conversation, candidates: Sequence[Option]) -> None:
    """Remember which answers the person is asked to choose between."""
    conv.pending = PENDING + ",".join(o.id for o in candidates)


def asking(conv: Conversation) -> bool:
    return conv.pending.startswith(PENDING)


def candidates(conv: Conversation, choices: Sequence[Option]) -> list[Option]:
    """The answers asked about, in the order they were offered."""
    ids = conv.pending.removeprefix(PENDING).split(",") if asking(conv) else []
    by_id = {o.id: o for o in choices}
    return [by_id[i] for i in ids if i in by_id]


def typed(state: State, text: str, offered: list[Option]) -> Option | str | None:
    """A typed reply to "Did you mean ...?": the option chosen, NONE_OF_THESE, or None when
    the reply is not about the confirmation (it is then read as an answer to the question)."""
    reading = read(state, text, offered)
    if reading.kind == OPTION and reading.option in offered:
        return reading.option
    if any(o.id in (YES, NO) for o in offered):
        return None  # "yes" answers the question itself, not the confirmation
    polarity = polarity_of(text.lower())
    if polarity == YES and len(offered) == 1:
        return offered[0]
    if polarity == NO:
        return NONE_OF_THESE
    return None
