"""`GET /go/{target}`: count a link click, then send the person on to the practice's page.

Targets are names (book, youtube, podcast, facebook, instagram), never URLs: the redirect only
ever forwards to an address from settings, so it cannot be used as an open redirect.
"""

from __future__ import annotations

from aiohttp import web

from bot.core import records
from bot.engine.compose import LINK_TARGETS, target_url
from bot.engine.engine import Engine

SUMMARY_LIMIT = 300
KNOWN_CHANNELS = ("telegram", "discord", "console")


def add_redirects(app: web.Application, engine: Engine) -> None:
    """Mount the click-counting redirect on the bot's web server."""

    async def go(request: web.Request) -> web.Response:
        target = request.match_info["target"]
        if target not in LINK_TARGETS:
            raise web.HTTPNotFound(text="unknown link")
        channel = request.query.get("channel", "")
        channel = channel if channel in KNOWN_CHANNELS else "unknown"
        flow = request.query.get("flow", "")
        flow = flow if flow in engine.flows else ""
        summary = request.query.get("summary", "")[:SUMMARY_LIMIT]
        await engine.store.record(records.LINK_CLICK, channel, "", flow, target)
        url = target_url(engine.settings, target, channel, flow or None, summary)
        raise web.HTTPFound(url)

    app.router.add_get("/go/{target}", go)
