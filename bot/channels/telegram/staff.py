"""The practice's staff chat on Telegram: notices in, staff replies out to the person.

Staff get each lead and "talk to a person" request as a message in a private Telegram group.
A staff member *replies* to one of those messages to answer the person, on whichever channel
the person is (the engine delivers it through that channel's outbox); replying `/done` ends
the conversation with staff. Anything else said in the staff chat is left alone. When a person
asks to be forgotten, the notices about them here are edited to say so.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.channels.telegram.failures import failure_kind
from bot.channels.telegram.handlers import CHANNEL
from bot.channels.telegram.render import to_html
from bot.channels.telegram.send import Sender
from bot.core.effects import FORGOTTEN_NOTICE, Address, DeliveryFailed, StaffNotice
from bot.turns.runner import TurnRunner

log = logging.getLogger(__name__)
STAFF_HANDLERS = 1  # a group of its own; the person handlers leave the staff chat alone


def place_of(chat_id: int) -> str:
    """How the relays table names the staff chat (`telegram:<chat id>`)."""
    return f"{CHANNEL}:{chat_id}"


class TelegramStaffChat:
    """A `StaffNotifier` posting to one Telegram chat, remembering whom each notice is about."""

    def __init__(self, sender: Sender, chat_id: int, engine: TurnRunner) -> None:
        self.sender = sender
        self.chat_id = chat_id
        self.engine = engine
        self.place = place_of(chat_id)

    async def notify(self, notice: StaffNotice) -> None:
        """Post the notice, remembering whom each message is about; a `forgotten` notice blanks
        the earlier ones instead. Raises DeliveryFailed (its kind only: notices hold personal
        details): for good when Telegram refuses, to retry otherwise (the bot's rate limiter
        has already waited out Telegram's flood limits)."""
        if notice.kind == FORGOTTEN_NOTICE:
            await self._blank(notice)
            return
        try:
            sent = await self.sender.text(self.chat_id, notice.text)
        except (Forbidden, BadRequest) as error:  # not in the chat any more, chat gone
            raise DeliveryFailed(f"{type(error).__name__}", permanent=True) from None
        except TelegramError as error:
            raise DeliveryFailed(f"{type(error).__name__}", kind=failure_kind(error)) from None
        await self.engine.posted(self.place, [str(message_id) for message_id in sent], notice)

    async def _blank(self, notice: StaffNotice) -> None:
        """Each earlier notice about the person posted here now says only `notice.text`."""
        text = to_html(notice.text)
        for place, message_id in notice.redact:
            if place not in (self.place, str(self.chat_id)) or not message_id.isdigit():
                continue
            try:
                await self.sender.edit(self.chat_id, int(message_id), text)
            except TelegramError as error:  # deleted by staff meanwhile, or too old to edit
                log.warning("telegram: a notice in the staff chat could not be blanked: %s",
                            type(error).__name__)


def add_staff_replies(application: Application, engine: TurnRunner, chat_id: int) -> None:
    """A staff member's reply to a notice in the staff chat goes to the person it was about."""

    async def staff_replied(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.reply_to_message is None or not message.text:
            return
        address = await person_replied_to(engine, chat_id, message.reply_to_message.message_id)
        if address is not None:  # else staff talking among themselves
            await engine.from_staff(address, message.text)

    staff = filters.Chat(chat_id) & filters.REPLY & filters.TEXT & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(staff, staff_replied), group=STAFF_HANDLERS)


async def person_replied_to(engine: TurnRunner, chat_id: int, message_id: int) -> Address | None:
    """The person a notice in the staff chat was about; None for any other message."""
    person = await engine.about(place_of(chat_id), str(message_id))
    if person is None:  # a notice posted before places were named `telegram:<chat id>`
        person = await engine.about(str(chat_id), str(message_id))
    return person
