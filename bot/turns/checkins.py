"""The timer that fires due follow-ups (check-ins), from every process that runs a channel
that can reach people later. Firing one is a turn of the runner's (`TurnRunner.fire_checkin`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

DUE_BATCH = 100  # follow-ups fired per pass at most; the rest on the next pass

log = logging.getLogger(__name__)


class CheckinTimer:
    """Fires due follow-ups, forever (until cancelled), from every process that runs one."""

    def __init__(
        self,
        due: Callable[[float, int], Awaitable[list[Any]]],
        fire: Callable[[int], Awaitable[bool]],
        clock: Callable[[], float],
        every: float,
    ) -> None:
        self._due, self._fire, self._clock, self.every = due, fire, clock, every
        self._wake = asyncio.Event()

    async def fire_due(self) -> int:
        """Fire what is due now; how many were sent."""
        sent = 0
        for followup in await self._due(self._clock(), DUE_BATCH):
            try:
                sent += await self._fire(followup.id)
            except Exception as error:  # one bad row must not stop the others; it stays due
                log.error("a follow-up could not be fired: %s", type(error).__name__,
                          exc_info=error)
        return sent

    async def run(self) -> None:
        while True:
            try:
                await self.fire_due()
            except Exception as error:  # the store is down for a moment: try again later
                log.warning("follow-up pass failed: %s", type(error).__name__)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.every)

    def wake(self) -> None:
        """Look for due follow-ups now (tests move their clock, then wake the timer)."""
        self._wake.set()
