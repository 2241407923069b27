"""The order updates are handled in: many chats at once, each chat's updates one by one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram.ext import BaseUpdateProcessor

from bot.channels.telegram.updates import chat_key

CONCURRENT_UPDATES = 256


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Many chats at once, each chat's updates one after another so replies stay in order."""

    def __init__(self, max_concurrent_updates: int = CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """`update` is Telegram's JSON of it (see dispatch.py)."""
        key = chat_key(update) if isinstance(update, dict) else 0
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with self._locks.setdefault(key, asyncio.Lock()):
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

