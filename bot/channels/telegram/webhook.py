"""Webhook mode: Telegram posts updates to a route on the bot's one web server.

Only requests carrying the secret token given to `setWebhook` are taken; the route answers
503 while the channel is not taking updates (before start, while stopping), so Telegram keeps
those updates and sends them again later. An update is answered 200 only once its turn is
committed (handled, or found already applied): a replica killed before that gets a 5xx or no
answer, and Telegram sends the update again, to whichever replica takes it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update

from bot.channels.telegram.api import BotApi
from bot.channels.telegram.dispatch import Dispatcher, Outcome
from bot.channels.telegram.updates import JSONDict, is_int
from bot.settings import Settings
from bot.turns.metrics import Metrics

WEBHOOK_PATH = "/telegram"
SOURCE = "telegram"  # the webhook's name in the operators' metrics
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]

log = logging.getLogger(__name__)


def webhook_address(settings: Settings) -> str:
    """The public URL Telegram posts to: the setting, else `<public_url>/telegram`."""
    if settings.telegram_webhook_url:
        return settings.telegram_webhook_url
    if settings.public_url:
        return settings.public_url.rstrip("/") + WEBHOOK_PATH
    raise ValueError("webhook mode needs BOT_TELEGRAM_WEBHOOK_URL or BOT_PUBLIC_URL")


class Webhook:
    """The `POST <path of the webhook URL>` route, and telling Telegram where it is."""

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or Metrics()
        self.url = webhook_address(settings)
        self.path = urlsplit(self.url).path or WEBHOOK_PATH
        configured = settings.telegram_webhook_secret
        self.secret = configured.get_secret_value() if configured else secrets.token_urlsafe(32)
        self._dispatcher: Dispatcher | None = None
        self._receiving = 0  # requests past the checks, their update not yet handled
        self._idle = asyncio.Event()
        self._idle.set()

    def mount(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.receive_update)

    async def open(self, api: BotApi, dispatcher: Dispatcher) -> None:
        """Take updates to the dispatcher, and point Telegram at the route."""
        self._dispatcher = dispatcher
        await api.call("setWebhook", url=self.url, secret_token=self.secret,
                       allowed_updates=ALLOWED_UPDATES)

    async def close(self) -> None:
        """Stop taking updates; return once every update already taken is handled.

        The webhook stays set, so Telegram keeps what arrives meanwhile for the next start.
        """
        self._dispatcher = None
        await self._idle.wait()

    async def receive_update(self, request: web.Request) -> web.Response:
        """One update from Telegram, accepted only with the right secret token."""
        offered = request.headers.get(SECRET_HEADER, "")
        # A header may hold bytes that are not UTF-8 (kept as surrogates): never the secret.
        if not offered.isascii() or not hmac.compare_digest(offered.encode(),
                                                            self.secret.encode()):
            log.warning("webhook call without the right secret token from %s", request.remote)
            self.metrics.webhook(SOURCE, "wrong_secret", accepted=False)
            return web.Response(status=403, text="forbidden")
        dispatcher = self._dispatcher
        if dispatcher is None:
            self.metrics.webhook(SOURCE, "not_taking_updates", accepted=False)
            return web.Response(status=503, text="not taking updates now")
        self._receiving += 1
        self._idle.clear()
        try:
            update = await _update_in(request)
            outcome = Outcome.UNREADABLE if update is None else await dispatcher.dispatch(update)
            if outcome is Outcome.UNREADABLE:
                self.metrics.webhook(SOURCE, "not_an_update", accepted=False)
                return web.Response(status=400, text="not an update")
            if outcome is Outcome.FAILED:
                self.metrics.webhook(SOURCE, "failed", accepted=False)
                return web.Response(status=500, text="not handled; send it again")
        finally:
            self._receiving -= 1
            if not self._receiving:
                self._idle.set()
        self.metrics.webhook(SOURCE, "handled", accepted=True)
        return web.Response(text="ok")


async def _update_in(request: web.Request) -> JSONDict | None:
    """The update a request carries, or None for a body that is not one (logged, not shown)."""
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        log.warning("webhook body was not an update: %s", type(error).__name__)
        return None
    if not isinstance(data, dict) or not is_int(data.get("update_id")):
        log.warning("webhook body was not an update: no update_id")
        return None
    return data
