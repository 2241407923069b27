"""A pressed button's spinner stopped: its callback query answered, and tried again, briefly,
when that fails.

A Telegram app keeps a pressed button's spinner turning until the bot answers the press's
callback query, for about 10 seconds; Telegram takes the answer for about 15 (the fake's
CALLBACK_ANSWER_WINDOW says where these figures come from). An answer lost to a 429, a 5xx, a
timeout or a dropped connection is tried again in the background until `ANSWER_WITHIN` seconds
after the press, never later. The press's handler starts it, sends the turn's reply meanwhile
(a failing answer never holds the reply up), then waits for it at most `WAIT_INLINE` seconds
more: usually it is done by then, and nothing is waited for.
"""

from __future__ import annotations

import asyncio
import logging

from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError

from bot.channels.telegram.api import BotApi, describe, retry_after

ANSWER_WITHIN = 10.0  # seconds after the press: while the app still waits, inside Telegram's 15
WAIT_INLINE = 1.0  # seconds the press's handler waits for the answer; the tries go on behind it
RETRY_PAUSE = (0.25, 2.0)  # seconds between tries: the first pause, the longest
OLD_QUERY_ERRORS = ("query is too old", "query id is invalid")

log = logging.getLogger(__name__)


class CallbackAnswers:
    """answerCallbackQuery for each press, retried within the press's window."""

    def __init__(self, api: BotApi, within: float = ANSWER_WITHIN) -> None:
        self.api = api
        self.within = within
        self._trying: set[asyncio.Task[None]] = set()

    def answer(self, query_id: str, pressed_at: float | None = None) -> asyncio.Task[None]:
        """Start answering the query (pressed at `pressed_at` on the loop's clock; now if not
        given): the tries run beside whatever the caller does next (see `answered`)."""
        loop = asyncio.get_running_loop()
        deadline = (loop.time() if pressed_at is None else pressed_at) + self.within
        task = loop.create_task(self._answer_by(query_id, deadline))
        self._trying.add(task)
        task.add_done_callback(self._trying.discard)
        return task

    @staticmethod
    async def answered(task: asyncio.Task[None]) -> None:
        """Wait for an answer started by `answer`, at most WAIT_INLINE seconds (no timer at all
        when it is done already, as it mostly is once the reply is out)."""
        if not task.done():
            await asyncio.wait({task}, timeout=WAIT_INLINE)

    async def close(self) -> None:
        """Give up the answers still being tried (the bot is stopping: a spinner may linger)."""
        trying = list(self._trying)
        for task in trying:
            task.cancel()
        await asyncio.gather(*trying, return_exceptions=True)

    async def _answer_by(self, query_id: str, deadline: float) -> None:
        """Try until answered, refused for good, or the deadline would pass while waiting."""
        loop = asyncio.get_running_loop()
        pause, tries = RETRY_PAUSE[0], 0
        while True:
            tries += 1
            wait = await self._try(query_id, deadline)
            if wait is None:
                return
            wait = max(wait, pause)
            if loop.time() + wait >= deadline:
                log.warning("a callback query went unanswered after %d tries: its button's "
                            "spinner stops by itself", tries)
                return
            await asyncio.sleep(wait)
            pause = min(pause * 2, RETRY_PAUSE[1])

    async def _try(self, query_id: str, deadline: float) -> float | None:
        """One try: None when it is over (answered, refused, or out of time), else the seconds
        to wait before the next (0: the usual pause)."""
        try:
            async with asyncio.timeout_at(deadline):
                await self.api.call("answerCallbackQuery", callback_query_id=query_id)
        except TimeoutError:
            log.warning("a callback query could not be answered in time: its button's spinner "
                        "stops by itself")
        except RetryAfter as error:  # past the rate limiter's own retries
            return retry_after(error)
        except (BadRequest, Forbidden, InvalidToken) as error:  # BadRequest is a NetworkError
            if any(phrase in str(error).lower() for phrase in OLD_QUERY_ERRORS):
                log.debug("callback query was too old to answer (or answered already)")
            else:
                log.warning("could not answer a callback query: %s", describe(error))
        except TelegramError:  # TimedOut, a 5xx, a dropped connection: worth another try
            return 0.0
        return None
