"""The exact forms of a typed answer: a button's number, label, id or synonym, a bare number,
and a hedge; everything looser is read in bot/engine/understand.py."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.engine.flow import Option

MAX_MATCH_LENGTH = 120  # longer texts are not answers to a button question

_WHOLE_NUMBER = re.compile(r"[0-9]{1,3}")
_DECIMAL = re.compile(r"[0-9]{1,6}(?:[.,][0-9]{1,3})?")
_EDGE_PUNCTUATION = " \t\n.!?,;:'\"()[]{}-*_~`"

# Hedged answers: on a question that offers "Not sure", these never count as yes or no.
_HEDGED = re.compile(
    r"\b(?:not (?:really |quite |totally |very |too )?sure|unsure|uncertain|not certain|maybe"
    r"|perhaps|possibly|probably|might|idk|dunno|don'?t know|do not know|no idea"
    r"|kind of|kinda|sort of|i think so|i guess|can'?t tell|hard to say|hard to tell|not sure"
    r"|can'?t remember|cannot remember|don'?t remember|do not remember|can'?t recall"
    r"|couldn'?t (?:try|do it|tell|say)|didn'?t (?:try|check|test)|never (?:checked|tried)"
    r"|haven'?t (?:tried|checked))\b"
)


def is_hedged(text: str) -> bool:
    """True for a short answer that says the person is not sure ("not sure really", "maybe?")."""
    answer = normalize(text)
    return len(answer) <= MAX_MATCH_LENGTH and bool(_HEDGED.search(answer))


def normalize(text: str) -> str:
    """Lower case, single spaces, no punctuation at the edges."""
    return " ".join(text.lower().split()).strip(_EDGE_PUNCTUATION)


def match_option(text: str, options: Sequence[Option]) -> Option | None:
    """The option a typed answer means for sure: its number, label, id or a synonym."""
    answer = normalize(text)
    if not answer or len(answer) > MAX_MATCH_LENGTH:
        return None
    if _WHOLE_NUMBER.fullmatch(answer):
        index = int(answer) - 1
        return options[index] if 0 <= index < len(options) else None
    for option in options:
        if answer in (normalize(option.label), option.id.lower()) or answer in option.synonyms:
            return option
    return None


def parse_number(text: str) -> float | None:
    """A number typed on its own, e.g. `7`, `7.5`, `7/10`, `-1` (never `nan`, `inf` or `²`)."""
    answer = normalize(text).removesuffix("/10").strip()
    if not _DECIMAL.fullmatch(answer):
        return None
    sign = -1.0 if text.strip().startswith(("-", "\u2212")) else 1.0  # normalize drops it
    return sign * float(answer.replace(",", "."))
