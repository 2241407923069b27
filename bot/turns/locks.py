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
        # Keyed by (channel, user id) tuples: hashed in C, where an Address (a dataclass) would
        # run its generated __hash__ for each of the five lookups of a turn.
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._waiting: dict[tuple[str, str], int] = {}

    @asynccontextmanager
    async def hold(self, person: Address) -> AsyncIterator[None]:
        key = (person.channel, person.user_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            left = self._waiting[key] - 1
            if left:
                self._waiting[key] = left
            else:
                del self._waiting[key], self._locks[key]
