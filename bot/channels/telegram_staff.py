"""The practice's staff chat on Telegram: notices in, staff replies relayed back to people.

Staff get each lead and "talk to a person" request as a message in a private Telegram chat.
A staff member *replies* to one of those messages to answer the person (a person on Telegram
gets the reply in their chat); replying `/done` closes the conversation with staff.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.channels.staff import AllStaffPlaces
from bot.channels.telegram import CHANNEL, html_chunks
from bot.core.effects import StaffNotice, StaffNotifier
from bot.core.events import Event, EventKind, Reply
from bot.engine.engine import Engine
from bot.settings import Settings
from bot.store.base import ConversationStore

log = logging.getLogger(__name__)
# Notices staff can answer by replying: the person is on Telegram and the bot can write to them.
RELAYED_KINDS = ("talk_request", "relay_message", "lead")
STAFF_HANDLERS = 1  # a group of its own; the channel's handlers leave the staff chat alone


class TelegramStaffChat:
    """A `StaffNotifier` posting to one Telegram chat, remembering notices staff may reply to."""

    def __init__(
        self, bot: Bot, chat_id: int, store: ConversationStore, owns_bot: bool = False
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.store = store
        self.owns_bot = owns_bot  # made here for this chat alone, so shut down here too

    async def close(self) -> None:
        """Shut the bot down if this staff chat made it (REST-only use)."""
        if self.owns_bot:
            await self.bot.shutdown()

    async def notify(self, notice: StaffNotice) -> None:
        """Post the notice; a failure is logged by kind only (notices hold personal details)."""
        try:
            sent = [
                await self.bot.send_message(self.chat_id, chunk, parse_mode=ParseMode.HTML)
                for chunk in html_chunks(notice.text)
            ]
        except TelegramError as error:
            log.warning("staff chat did not take a %s notice: %s", notice.kind,
                        type(error).__name__)
            return
        if notice.kind in RELAYED_KINDS and notice.channel == CHANNEL:
            for message in sent:
                await self.store.save_relay(
                    str(self.chat_id), str(message.message_id), notice.channel, notice.user_id
                )


async def rest_only_staff_chat(
    settings: Settings, store: ConversationStore
) -> tuple[TelegramStaffChat, Bot] | None:
    """The staff chat for a process without a Telegram bot running (e.g. the Discord one).

    None when the token or the chat id is not set, or Telegram refuses the token (logged).
    The caller shuts the returned bot down when it stops.
    """
    token = settings.telegram_token.get_secret_value().strip() if settings.telegram_token else ""
    if not token or settings.staff_telegram_chat_id is None:
        return None
    bot = Bot(token, base_url=settings.telegram_base_url)
    try:
        await bot.initialize()
    except TelegramError as error:
        log.error("staff notices will not reach Telegram: %s", type(error).__name__)
        await bot.shutdown()
        return None
    return TelegramStaffChat(bot, settings.staff_telegram_chat_id, store, owns_bot=True), bot


async def attach_staff_places(
    engine: Engine, settings: Settings, bot: Bot
) -> Callable[[], Awaitable[None]]:
    """Point the engine's staff notices at the Telegram staff chat and the Discord channel.

    Returns what closes the extra connections when the bot stops.
    """
    from bot.channels.discord import discord_staff_notifier

    places: list[StaffNotifier] = []
    if settings.staff_telegram_chat_id is not None:
        places.append(TelegramStaffChat(bot, settings.staff_telegram_chat_id, engine.store))
    discord_staff = await discord_staff_notifier(settings)
    if discord_staff is not None:
        places.append(discord_staff[0])
    if places:
        engine.notifier = AllStaffPlaces(places)

    async def close() -> None:
        if discord_staff is not None:
            await discord_staff[1].close()

    return close


def add_staff_chat(application: Application, engine: Engine, chat_id: int) -> None:
    """Notices go to the staff chat, and staff replies there go back to the person."""

    async def staff_replied(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            await relay_staff_reply(engine, context.bot, message)

    chat = filters.Chat(chat_id) & filters.REPLY & filters.TEXT & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(chat, staff_replied), group=STAFF_HANDLERS)


async def relay_staff_reply(engine: Engine, bot: Bot, staff_message: Message) -> bool:
    """Relay a staff reply to the person the replied-to notice was about; False if none was."""
    original = staff_message.reply_to_message
    if original is None or not staff_message.text:
        return False
    target = await engine.store.relay_target(str(staff_message.chat_id),
                                            str(original.message_id))
    if target is None:
        return False
    channel, user_id = target
    reply = await engine.handle(Event(channel, user_id, EventKind.STAFF, text=staff_message.text))
    await _deliver(bot, int(user_id), reply)
    return True


async def _deliver(bot: Bot, chat_id: int, reply: Reply) -> None:
    for message in reply.messages:
        for chunk in html_chunks(message.text):
            await bot.send_message(chat_id, chunk, parse_mode=ParseMode.HTML)
