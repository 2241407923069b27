"""The booking link: UTM parameters and a short screening summary in the provider's prefill."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.settings import Practice

PREFILL_FIELD = {"calendly": "a1", "cal.com": "notes"}
SUMMARY_LIMIT = 300


# The longest link a button may carry anywhere the bot runs: Discord's link buttons take 512
# characters (Message Components: Button Object, url); the summary is cut to stay within it.
URL_LIMIT = 512


def booking_link(practice: Practice, channel: str, flow: str | None, summary: str = "") -> str:
    """The practice's booking URL tagged with where the person came from and what they said."""
    parts = urlsplit(practice.booking_url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(
        {"utm_source": channel, "utm_medium": "chatbot", "utm_campaign": flow or "general"}
    )
    prefill = PREFILL_FIELD.get(practice.booking_provider)
    if not (prefill and summary):
        return urlunsplit(parts._replace(query=urlencode(query)))
    summary = summary[:SUMMARY_LIMIT]
    while True:  # as much of the summary as keeps the link within every platform's limit
        query[prefill] = summary
        link = urlunsplit(parts._replace(query=urlencode(query)))
        if len(link) <= URL_LIMIT:
            return link
        if not summary:
            del query[prefill]
            return urlunsplit(parts._replace(query=urlencode(query)))
        summary = summary[: max(0, len(summary) - max(1, (len(link) - URL_LIMIT) // 3))].rstrip()
