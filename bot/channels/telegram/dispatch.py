"""Every update, from polling or the webhook, to its handler: each chat's updates one after
another, many chats at once.

A person's presses and private messages (nearly all updates) are read from the JSON
(updates.py) and handled by `Handlers.person_did`; the rest go through python-telegram-bot's
`Update` objects and the handlers registered on the application.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.channels.telegram.handlers import Handlers
from bot.channels.telegram.updates import JSONDict, PersonUpdate, read_update

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    """What became of an update: handled, failed (to be sent again), or not one at all."""

    HANDLED = "handled"
    FAILED = "failed"
    UNREADABLE = "unreadable"


class Dispatcher:
    """Hands each update to its handler, in order within its chat."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 handlers: Handlers) -> None:
        self.application = application
        self.handlers = handlers
        # Called with each update's id once it is handled or has failed (tests wait on it).
        self.after: list[Callable[[int], None]] = []

    async def dispatch(self, data: JSONDict) -> Outcome:
        """Handle one update given as Telegram's JSON (its `update_id` an int)."""
        update_id = data["update_id"]
        person = read_update(data)
        if person is not None:
            work = self._person(person)
        else:
            try:
                update = Update.de_json(data, self.application.bot)
            except (TypeError, KeyError, ValueError, AttributeError) as error:
                log.warning("an update could not be read: %s", type(error).__name__)
                return Outcome.UNREADABLE
            work = self.application.process_update(update)
        try:
            await self.application.update_processor.process_update(data, work)
        finally:
            for observer in self.after:
                observer(update_id)
        if update_id in self.handlers.failed_updates:
            self.handlers.failed_updates.discard(update_id)
            return Outcome.FAILED
        return Outcome.HANDLED

    async def _person(self, update: PersonUpdate) -> None:
        """A press or private message; a failure is logged (its type, never what was said)
        and the update marked to come again."""
        try:
            await self.handlers.person_did(update)
        except Exception as error:
            self.handlers.failed_updates.add(update.update_id)
            log.error("telegram handler failed: %s", type(error).__name__, exc_info=error)
