"""Understanding typed answers: numbers, labels, synonyms, small typos, and command words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from bot.engine.flow import Option

MAX_MATCH_LENGTH = 120  # longer texts are not answers to a button question
FUZZY_CUTOFF = 0.8

_WORD = re.compile(r"[a-z0-9']+")
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


_LIST_SEPARATORS = re.compile(r"\s*(?:,|;|/|\band\b|&|\+)\s*")


def match_options(text: str, options: Sequence[Option]) -> list[Option]:
    """Several options typed at once (`1, 3`, `1 3`, `stairs and running`); [] unless every
    part names an option. A single part is matched too, so `stairs` picks one."""
    answer = normalize(text)
    if not answer or len(answer) > MAX_MATCH_LENGTH:
        return []
    parts = [part for part in _LIST_SEPARATORS.split(answer) if part]
    if len(parts) == 1 and all(_WHOLE_NUMBER.fullmatch(p) for p in answer.split()):
        parts = answer.split()  # "1 3": repeated numbers
    found: list[Option] = []
    for part in parts:
        option = match_option(part, options) or match_option_loosely(part, options)
        if option is None:
            return []
        if option not in found:
            found.append(option)
    return found


def match_option_loosely(text: str, options: Sequence[Option]) -> Option | None:
    """A close-enough option: small typos, or a word that appears in exactly one label."""
    answer = normalize(text)
    if not answer or len(answer) > MAX_MATCH_LENGTH:
        return None
    scored = sorted(
        ((_similarity(answer, option), index) for index, option in enumerate(options)),
        reverse=True,
    )
    if (
        scored
        and scored[0][0] >= FUZZY_CUTOFF
        and (len(scored) == 1 or scored[1][0] < scored[0][0])
    ):
        return options[scored[0][1]]
    words = set(_WORD.findall(answer))
    if len(words) == 1 and len(answer) >= 4:
        holders = [option for option in options if answer in _WORD.findall(option.label.lower())]
        if len(holders) == 1:
            return holders[0]
    return None


def _similarity(answer: str, option: Option) -> float:
    candidates = (normalize(option.label), *option.synonyms)
    return max(SequenceMatcher(None, answer, candidate).ratio() for candidate in candidates)


def parse_number(text: str) -> float | None:
    """A number typed on its own, e.g. `7`, `7.5`, `7/10`, `-1` (never `nan`, `inf` or `²`)."""
    answer = normalize(text).removesuffix("/10").strip()
    if not _DECIMAL.fullmatch(answer):
        return None
    sign = -1.0 if text.strip().startswith(("-", "\u2212")) else 1.0  # normalize drops it
    return sign * float(answer.replace(",", "."))
