"""`WebChannel`: the web chat's place in the runner's lifecycle (bot/core/channel.py)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bot.channels.web.api import CHANNEL, WebChatApi
from bot.core.effects import Address, DeliveryFailed, StaffNotifier
from bot.core.events import Reply
from bot.settings import Settings
from bot.turns.runner import TurnRunner

STOP_WAIT = 10.0  # seconds requests in flight have to finish when the process stops


class WebChannel:
    """The chat box on the practice's pages, served by the bot's one web server.

    It answers each turn inline, in the HTTP response. It is never registered as an outbox
    (bot/core/channels.py: its delivery is `pull`): messages the engine saves for a web person
    (a staff member's reply) wait in the store until that person's browser collects them, on
    any replica.
    """

    name = CHANNEL

    def __init__(self, engine: TurnRunner, settings: Settings, webhook: bool = False) -> None:
        self.api = WebChatApi(engine, settings)

    @staticmethod
    def configured(settings: Settings) -> bool:
        """On unless the practice turned it off (BOT_WEB_CHAT__ENABLED=false)."""
        return settings.web_chat.enabled

    def mount(self, app: Any) -> None:
        self.api.mount(app)

    async def start(self) -> None:
        self.api.stopping = False

    async def stop(self) -> None:
        """New turns are refused (503, "try again in a moment"); those in flight finish."""
        self.api.stopping = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.api.idle.wait(), STOP_WAIT)

    def staff_place(self) -> StaffNotifier | None:
        return None  # staff read and answer on Telegram, Discord or the dashboard

    async def deliver(self, address: Address, reply: Reply) -> None:
        """Never called (the runner registers no outbox for a `pull` channel): a browser
        cannot be reached on its own, so waiting messages stay in the store for it."""
        raise DeliveryFailed("the web chat's messages are collected by the browser")
