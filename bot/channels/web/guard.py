"""What the web chat accepts, and the headers it answers with.

- Only JSON (`Content-Type: application/json`, which a cross-site form cannot send without
  asking first), from the bot's own pages or the practice's allowed origins (`Origin`
  checked on every request; CORS granted to those origins only), at most `MAX_BODY` bytes.
- A session id is an anonymous random string the browser made (`SESSION_ID`); a message id
  likewise (`MESSAGE_ID`), so a request sent twice is applied once.
- Typed text is cleaned (control and direction-override characters, lone surrogates) and at
  most `MAX_TEXT` characters.
- Pages carry a strict Content-Security-Policy: everything from the bot itself, no inline
  script or style, framed only by the bot and the allowed origins.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")  # the browser's: 16+ random bytes, base64url
MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_BODY = 64 * 1024  # bytes: the longest text, every character escaped, fits with room
MAX_TEXT = 4000  # characters a typed message may have
MAX_TURN = 10**9
JSON_TYPE = "application/json"
# Characters that have no place in a typed answer: C0/C1 controls (but newline and tab),
# direction overrides and isolates (they make text read differently than it is stored).
_UNWANTED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

# Why a request is refused: each names its words in templates/web/errors.j2.
TOO_BIG, NOT_JSON, WRONG_ORIGIN, BAD_SESSION = "too_big", "not_json", "wrong_origin", "bad_session"


class Refused(Exception):
    """A request the web chat does not take: its HTTP status, and why (a name in
    templates/web/errors.j2, with the values its words need)."""

    def __init__(self, status: int, reason: str, retry_after: float | None = None,
                 **details: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.details = details
        self.retry_after = retry_after

    def response(self, words: Any) -> web.Response:
        """The refusal as JSON, in the friendly words `words` (errors.j2's names) give it."""
        said = getattr(words, self.reason)
        body: dict[str, Any] = {"error": str(said(**self.details) if callable(said) else said)}
        headers = {}
        if self.retry_after is not None:
            seconds = max(1, round(self.retry_after + 0.499))
            body["retry_after"] = seconds
            headers["Retry-After"] = str(seconds)
        return web.json_response(body, status=self.status, headers=headers)


def own_origins(request: web.Request, public_url: str) -> set[str]:
    """The bot's own origins: the host the browser asked for (by http or https: a reverse
    proxy may end TLS), and the public URL's."""
    origins = {f"{scheme}://{request.host.lower()}" for scheme in ("http", "https")}
    if public_url:
        parts = urlsplit(public_url)
        origins.add(f"{parts.scheme}://{parts.netloc.lower()}")
    return origins


def checked_origin(request: web.Request, allowed: tuple[str, ...], public_url: str) -> str:
    """The request's Origin when it is the bot's own or an allowed one; else Refused (403).
    Browsers send Origin with every POST, so a request without one is not from a chat box."""
    origin = request.headers.get("Origin", "").lower()
    if origin and (origin in allowed or origin in own_origins(request, public_url)):
        return origin
    raise Refused(403, WRONG_ORIGIN)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; Refused when it is not JSON, too big or not an object."""
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != JSON_TYPE:
        raise Refused(415, NOT_JSON)
    if (request.content_length or 0) > MAX_BODY:
        raise Refused(413, TOO_BIG)
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise Refused(413, TOO_BIG)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):  # [[[[... 20,000 deep
        raise Refused(400, NOT_JSON) from None
    if not isinstance(body, dict):
        raise Refused(400, NOT_JSON)
    return body


def session_id(body: dict[str, Any]) -> str:
    value = body.get("session")
    if not isinstance(value, str) or not SESSION_ID.fullmatch(value):
        raise Refused(400, BAD_SESSION)
    return value


def message_id(body: dict[str, Any]) -> str:
    value = body.get("message_id")
    if not isinstance(value, str) or not MESSAGE_ID.fullmatch(value):
        raise Refused(400, NOT_JSON)
    return value


def clean_text(text: str) -> str:
    """Typed text as stored: NFC, without unwanted characters, without outer whitespace."""
    return unicodedata.normalize("NFC", _UNWANTED.sub("", text)).strip()


def page_policy(allowed: tuple[str, ...]) -> str:
    """The Content-Security-Policy of the chat page."""
    ancestors = " ".join(("'self'", *allowed))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        f"form-action 'self'; frame-ancestors {ancestors}"
    )


def secure(response: web.StreamResponse, policy: str = "default-src 'none'; "
           "frame-ancestors 'none'", cross_origin: bool = False) -> web.StreamResponse:
    """The headers every web chat response carries."""
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin" if cross_origin \
        else "same-origin"
    return response


def cors(response: web.StreamResponse, origin: str, allowed: tuple[str, ...]) -> None:
    """Let an allowed origin read the answer (never with credentials: none are used)."""
    response.headers["Vary"] = "Origin"
    if origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
