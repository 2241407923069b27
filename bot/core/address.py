"""Whose request it is, by address: the connecting one, or behind a reverse proxy the operator
trusts (BOT_WEB_CHAT__TRUST_FORWARDED_FOR) the last X-Forwarded-For entry, the one that proxy
added (earlier entries are whatever the client claimed). Read by the web chat's rate limits,
the dashboard's sign-in limits and the redirect's clicks without a token."""

from __future__ import annotations

from collections.abc import Mapping

UNKNOWN = "unknown"


def client_address(headers: Mapping[str, str], remote: str | None,
                   trust_forwarded_for: bool) -> str:
    """The client's address as this server may believe it."""
    if trust_forwarded_for:
        forwarded = headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return remote or UNKNOWN
