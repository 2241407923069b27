"""The bot's own web server: a health check, Telegram webhooks, and room for more routes.

`create_web_app()` gives the base application; each feature adds its routes with an
`add_...(app, ...)` function before `serve(app, host, port)` starts listening.
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Update
from telegram.ext import Application

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

log = logging.getLogger(__name__)


def create_web_app() -> web.Application:
    """An aiohttp application with `GET /healthz`; features add their own routes."""
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    return app


async def healthz(request: web.Request) -> web.Response:
    """Liveness for load balancers and orchestrators."""
    return web.json_response({"status": "ok"})


def add_telegram_webhook(
    app: web.Application, application: Application, secret: str, path: str
) -> None:
    """`POST <path>`: updates from Telegram, accepted only with the right secret token."""

    async def receive_update(request: web.Request) -> web.Response:
        offered = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(offered.encode(), secret.encode()):
            log.warning("webhook call without the right secret token from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
            update = Update.de_json(data, application.bot)
        except (json.JSONDecodeError, TypeError, KeyError, ValueError):
            return web.Response(status=400, text="not an update")
        await application.update_queue.put(update)
        return web.Response(text="ok")

    app.router.add_post(path, receive_update)


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start listening; the caller ends it with `await runner.cleanup()`."""
    runner = web.AppRunner(app, access_log=None)  # URLs may one day carry personal details
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
