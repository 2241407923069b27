"""Long polling that confirms an update to Telegram only once it has been handled.

python-telegram-bot's own Updater confirms each batch (by asking for the next offset) as soon
as it is queued, so a crash loses what was queued but not handled. Here a batch is handled
first, each chat's updates in order and many chats at once, and only then is the next offset
asked for: after a crash Telegram sends the batch again, and the store answers the updates
already applied without applying them twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram.api import BotApi
from bot.channels.telegram.dispatch import Dispatcher, Outcome
from bot.channels.telegram.updates import JSONDict, is_int
from bot.channels.telegram.webhook import ALLOWED_UPDATES

POLL_TIMEOUT = 10  # seconds a getUpdates call waits for updates; stopping cuts it short
RETRY_PAUSE = (1.0, 30.0)  # seconds between failed polls: first, longest
BATCH_RETRIES = 3  # a batch whose handling failed is fetched again this many times

log = logging.getLogger(__name__)


class Poller:
    """Fetches updates, hands them to the dispatcher, confirms them once handled."""

    def __init__(self, api: BotApi, dispatcher: Dispatcher) -> None:
        self.api = api
        self.dispatcher = dispatcher
        self._task: asyncio.Task[None] | None = None
        self._fetching = False
        self._stopping = False

    async def start(self) -> None:
        """Drop any webhook (Telegram sends to one or the other) and start polling."""
        await self.api.call("deleteWebhook")
        self._task = asyncio.create_task(self._poll_forever(), name="telegram-poller")

    async def stop(self) -> None:
        """Stop fetching; a batch in hand is handled (and confirmed) first."""
        self._stopping = True
        if self._task is None:
            return
        if self._fetching:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _poll_forever(self) -> None:
        offset: int | None = None
        pause = RETRY_PAUSE[0]
        retries = 0
        while not self._stopping:
            updates = await self._fetch(offset)
            if updates is None:
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_PAUSE[1])
                continue
            pause = RETRY_PAUSE[0]
            if not updates:
                continue
            failed = await self._handle(updates)
            if failed and retries < BATCH_RETRIES:
                retries += 1
                log.warning("handling %d update(s) failed; fetching them again", failed)
                await asyncio.sleep(RETRY_PAUSE[0] * retries)
                continue
            retries = 0
            offset = max(u["update_id"] for u in updates) + 1  # confirms the batch on the next call

    async def _fetch(self, offset: int | None) -> list[JSONDict] | None:
        """The next batch; None after a failure worth a pause."""
        self._fetching = True
        if self._stopping:
            self._fetching = False
            return []
        try:
            updates = await self.api.get_updates(offset, POLL_TIMEOUT, ALLOWED_UPDATES)
        except TimedOut:
            return []
        except Conflict:
            log.error("another process is polling this bot (409 Conflict): only one may poll; "
                      "use webhook mode for several replicas")
            return None
        except RetryAfter as error:
            log.warning("telegram asked to slow down polling: %s", error.message)
            return None
        except InvalidToken:
            log.error("telegram no longer accepts the bot token")
            return None
        except NetworkError as error:
            log.warning("polling failed: %s", type(error).__name__)
            return None
        finally:
            self._fetching = False
        return [update for update in updates if is_int(update.get("update_id"))]

    async def _handle(self, updates: list[JSONDict]) -> int:
        """Handle a batch (each chat's updates in order); how many failed."""
        outcomes = await asyncio.gather(*(self.dispatcher.dispatch(u) for u in updates))
        return sum(outcome is Outcome.FAILED for outcome in outcomes)
