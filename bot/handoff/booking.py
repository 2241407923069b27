"""The booking link: UTM parameters and a short screening summary in the provider's prefill."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.settings import Practice

PREFILL_FIELD = {"calendly": "a1", "cal.com": "notes"}
SUMMARY_LIMIT = 300


def booking_link(practice: Practice, channel: str, flow: str | None, summary: str = "") -> str:
    """The practice's booking URL tagged with where the person came from and what they said."""
    parts = urlsplit(practice.booking_url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(
        {"utm_source": channel, "utm_medium": "chatbot", "utm_campaign": flow or "general"}
    )
    prefill = PREFILL_FIELD.get(practice.booking_provider)
    if prefill and summary:
        query[prefill] = summary[:SUMMARY_LIMIT]
    return urlunsplit(parts._replace(query=urlencode(query)))
