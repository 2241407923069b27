"""One turn at a time per person in this process (the store's turn holds it across
processes and replicas)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.core.effects import Address


class PersonLocks:
    """An asyncio lock per person, dropped when nobody waits on it."""

    def __init__(self) -> None:
        self._locks: dict[Address, asyncio.Lock] = {}
        self._waiting: dict[Address, int] = {}

    @asynccontextmanager
    async def hold(self, person: Address) -> AsyncIterator[None]:
        lock = self._locks.setdefault(person, asyncio.Lock())
        self._waiting[person] = self._waiting.get(person, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[person] -= 1
            if not self._waiting[person]:
                del self._waiting[person], self._locks[person]
