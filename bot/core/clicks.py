"""Click tokens: each link button carries a signed pseudonym of the person who was shown it.

`/go/<link>` counts one click per pseudonym and link, so a person opening a link ten times (or
a script requesting it three hundred times) is one click. The pseudonym is a keyed hash: it
names nobody, and no user id or address is ever written to a URL or the database. A request
without a valid token is counted once per client address and day, under a pseudonym too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

TOKEN_PARAMETER = "t"
SIGNATURE_PARAMETER = "s"  # signs a booking link's prefill and reference
_PART = 16  # characters of each keyed hash kept (96 bits)


def _mac(key: bytes, *parts: str) -> str:
    digest = hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_PART]


def pseudonym(key: bytes, channel: str, user_id: str) -> str:
    """The person as the click counter knows them: the same for every link they are shown."""
    return _mac(key, "person", channel, user_id)


def click_token(key: bytes, channel: str, user_id: str, target: str) -> str:
    """The token a link button for `target` carries: `<pseudonym>.<signature>`."""
    who = pseudonym(key, channel, user_id)
    return f"{who}.{_mac(key, 'click', who, channel, target)}"


def clicker(key: bytes, token: str, channel: str, target: str) -> str | None:
    """The pseudonym in a token signed for this channel and link; None for anything else."""
    who, _, signature = token.partition(".")
    if not who or not signature or not token.isascii():  # a token is ASCII; bytes never match
        return None
    expected = _mac(key, "click", who, channel, target)
    return who if hmac.compare_digest(signature, expected) else None


def anonymous_clicker(key: bytes, address: str, day: str) -> str:
    """A pseudonym for a click without a valid token: its client address, for one day."""
    return "addr-" + _mac(key, "address", address, day)


def booking_signature(key: bytes, channel: str, flow: str, summary: str, ref: str) -> str:
    """Signs what a booking link prefills and which screening it credits, so `/go/book` passes
    on only what the bot wrote: never a stranger's text on the practice's booking page, nor a
    booking credited to someone else's reference."""
    return _mac(key, "booking", channel, flow, summary, ref)


def booking_signed(key: bytes, signature: str, channel: str, flow: str, summary: str,
                   ref: str) -> bool:
    """Whether `signature` is the bot's own for this prefill and reference."""
    if not signature or not signature.isascii():
        return False
    expected = booking_signature(key, channel, flow, summary, ref)
    return hmac.compare_digest(signature.encode(), expected.encode())
