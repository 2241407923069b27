"""Durations in typed replies ("about 3 months", "2 wks", "since last summer") matched to
the ranges of time an option's label names ("Less than 6 weeks", "1 to 6 weeks ago")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from text_to_num import alpha2digit

from bot.engine.flow import Option

_UNITS = {"day": 1, "d": 1, "week": 7, "wk": 7, "w": 7, "month": 30, "mo": 30, "mth": 30,
          "year": 365, "yr": 365, "y": 365}
_UNIT = r"(day|d|week|wk|w|month|mo|mth|year|yr|y)s?\b"
_AMOUNT = (r"(\d+(?:\.\d+)?|a few|a couple(?: of)?|couple(?: of)?|few|several|a|an|one"
           r"|half a|a half)")
_DURATION = re.compile(_AMOUNT + r"\s*" + _UNIT)
_VAGUE = {"a few": 3, "few": 3, "a couple": 2, "a couple of": 2, "couple": 2,
          "couple of": 2, "several": 4, "a": 1, "an": 1, "one": 1, "half a": 0.5,
          "a half": 0.5}
_SINCE = re.compile(r"\b(?:since|from) (?:last )?(?:summer|winter|spring|fall|autumn|year"
                    r"|christmas|january|february|march|april|may|june|july|august"
                    r"|september|october|november|december)\b|\bfor (?:ages|years|a long time)\b")
_RELATIVE = {"today": 0, "yesterday": 1, "last night": 1, "last week": 7, "last month": 30,
             "last year": 365, "this morning": 0}
_RANGES = (
    (re.compile(r"(?:less than|under|within) (\d+) " + _UNIT), "below"),
    (re.compile(r"(?:more than|over|longer than) (\d+) " + _UNIT), "above"),
    (re.compile(r"(?:in )?the last (\d+) " + _UNIT), "upto"),
    (re.compile(r"(\d+) " + _UNIT + r" to (\d+) " + _UNIT), "between"),
    (re.compile(r"(\d+) to (\d+) " + _UNIT), "between_same"),
)


def by_duration(digits: str, options: Sequence[Option]) -> list[Option]:
    """Options whose label names a range of time holding the duration in the reply."""
    ranges = [(o, _range(o.label)) for o in options]
    if not any(r for _, r in ranges):
        return []
    days = _days(digits)
    if days is None:
        return []
    return [o for o, r in ranges if r and r[0] <= days <= r[1]]


@lru_cache(maxsize=512)
def _range(label: str) -> tuple[float, float] | None:
    text = in_digits(label.lower())
    for pattern, kind in _RANGES:
        match = pattern.search(text)
        if match is None:
            continue
        groups = match.groups()
        if kind == "below":
            return 0.0, int(groups[0]) * _UNITS[groups[1]] - 0.5
        if kind == "above":
            return int(groups[0]) * _UNITS[groups[1]] + 0.5, float("inf")
        if kind == "upto":
            return 0.0, int(groups[0]) * _UNITS[groups[1]]
        if kind == "between":
            return int(groups[0]) * _UNITS[groups[1]], int(groups[2]) * _UNITS[groups[3]]
        return int(groups[0]) * _UNITS[groups[2]], int(groups[1]) * _UNITS[groups[2]]
    return None


def _days(digits: str) -> float | None:
    """How long a reply says, in days: "about 3 months", "2 wks", "a couple of weeks",
    "since last summer"; None when it names no time."""
    match = _DURATION.search(digits)
    if match is not None:
        amount, unit = match.groups()
        count = _VAGUE.get(amount)
        number = float(amount) if count is None else count
        return number * _UNITS[unit]
    if "half a year" in digits or "six months" in digits:
        return 182.0
    if _SINCE.search(digits):
        return 240.0  # a season or a month named as the start: months, not weeks
    for phrase, days in _RELATIVE.items():
        if re.search(rf"\b{phrase}\b", digits):
            return float(days)
    return None


def in_digits(text: str) -> str:
    """Numbers in words as digits ("six" -> "6"); the text unchanged where that fails."""
    try:
        return str(alpha2digit(text, "en", threshold=0))
    except (ValueError, TypeError):  # the library raises on some odd inputs
        return text
