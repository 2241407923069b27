"""`GET /go/{target}`: count a link click, then send the person on to the practice's page.

Targets are names (book, youtube, podcast, facebook, instagram), never URLs: the redirect only
ever forwards to an address from settings, so it cannot be used as an open redirect. A booking
link's prefill and reference pass only with the bot's signature over them (`s`): anyone else's
`summary=` or `ref=` is dropped. A click is
counted once per person and link (bot/core/clicks.py), however often the link is opened.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from aiohttp import web

from bot.core import records
from bot.core.address import client_address
from bot.core.booking import SUMMARY_LIMIT
from bot.core.channels import CHANNELS
from bot.core.clicks import (
    SIGNATURE_PARAMETER,
    TOKEN_PARAMETER,
    anonymous_clicker,
    booking_signed,
    clicker,
)
from bot.engine.compose import LINK_TARGETS, target_url
from bot.turns.runner import TurnRunner

REF_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")  # a booking reference: a URL-safe token


def add_redirects(app: web.Application, engine: TurnRunner) -> None:
    """Mount the click-counting redirect on the bot's web server."""

    async def go(request: web.Request) -> web.Response:
        target = request.match_info["target"]
        if target not in LINK_TARGETS:
            raise web.HTTPNotFound(text="unknown link")
        channel = request.query.get("channel", "")
        channel = channel if channel in CHANNELS else "unknown"
        flow = request.query.get("flow", "")
        flow = flow if flow in engine.flows else ""
        summary = request.query.get("summary", "")[:SUMMARY_LIMIT]
        ref = request.query.get("ref", "")
        ref = ref if REF_PATTERN.fullmatch(ref) else ""
        if not booking_signed(engine.settings.link_key, request.query.get(SIGNATURE_PARAMETER, ""),
                              channel, flow, summary, ref):
            summary = ref = ""  # not the bot's own link: the plain booking page, credited to none
        now = time.time()
        if await engine.store.count_click(_clicker(request, engine, channel, target, now),
                                          target, now):
            await engine.store.record(records.LINK_CLICK, channel, "", flow, target, at=now)
        url = target_url(engine.settings, target, channel, flow or None, summary, ref)
        raise web.HTTPFound(url)

    app.router.add_get("/go/{target}", go)


def _clicker(request: web.Request, engine: TurnRunner, channel: str, target: str,
             now: float) -> str:
    """Who clicked, as a pseudonym: from the link's signed token, else the address and day."""
    key = engine.settings.link_key
    token = request.query.get(TOKEN_PARAMETER, "")
    who = clicker(key, token, channel, target) if token else None
    if who is not None:
        return who
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    address = client_address(request.headers, request.remote,
                             engine.settings.web_chat.trust_forwarded_for)
    return anonymous_clicker(key, address, day)
