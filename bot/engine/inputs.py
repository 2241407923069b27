"""Typed answers a state accepts as free text: numbers, short text, names, email or phone."""

from __future__ import annotations

from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.engine.flow import Input
from bot.engine.matching import parse_number

NAME_LIMIT = 80


def parse_input(spec: Input, text: str, phone_region: str = "US") -> Any:
    """The typed value for a state's input, or None when the text is not a valid answer."""
    cleaned = " ".join(text.split())
    if spec.type == "number":
        return _number(spec, cleaned)
    if spec.type == "name":
        return _name(cleaned)
    if spec.type == "email_or_phone":
        return email_or_phone(cleaned, phone_region)
    return cleaned if 0 < len(cleaned) <= spec.max_length else None


def _number(spec: Input, text: str) -> float | int | None:
    number = parse_number(text)
    if number is None:
        return None
    too_low = spec.minimum is not None and number < spec.minimum
    too_high = spec.maximum is not None and number > spec.maximum
    if too_low or too_high:
        return None
    return int(number) if number.is_integer() else number


def _name(text: str) -> str | None:
    letters = sum(character.isalpha() for character in text)
    if not 0 < len(text) <= NAME_LIMIT or letters < 1 or "://" in text or "@" in text:
        return None
    return text


def email_or_phone(text: str, region: str = "US") -> dict[str, str] | None:
    """`{"email": ...}` or `{"phone": E.164}` when the text is a valid address or number."""
    if "@" in text:
        try:
            address = validate_email(text, check_deliverability=False)
        except EmailNotValidError:
            return None
        return {"email": address.normalized}
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return {"phone": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)}
