"""A bare aiogram 3 echo bot in a process of its own: echo_bot.py's calls, on aiogram's own
transport (its aiohttp session), for the benchmark's reference row.

The same three calls per press, with the same texts (answer the press, edit the pressed message,
send a message) and one per text, and the same polling: long polls of 10 s, no
`allowed_updates`, getMe and deleteWebhook before the first poll, at most 256 connections.
Updates are handled concurrently, as python-telegram-bot's `concurrent_updates(256)` handles
them: aiogram's polling starts a task per update (`handle_as_tasks`, its default), here with
at most 256 at once (`tasks_concurrency_limit`). Nothing reaches the real Telegram: the session
talks to the fake's address only, and aiogram's signal handlers stay off (the benchmark stops
the bot). aiogram posts form fields (URL-encoded; multipart only with files), which the fake
reads as the Bot API does, as it reads python-telegram-bot's JSON.
"""

from __future__ import annotations

import asyncio
import os
import sys
from multiprocessing.connection import Connection

# aiogram is not one of the project's dependencies: bench_telegram.py --aiogram names a folder
# it was installed into with its dependencies, and this process alone reads it. The folder comes
# after the project's packages, so it runs on the project's aiohttp and takes from the folder only
# what the project has not (aiogram itself, pydantic).
sys.path += [folder for folder in [os.environ.get("BENCH_AIOGRAM_FOLDER")] if folder]

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message

from scripts.bench.measure import measured

# As echo_bot.py's (not imported from it: that would bring python-telegram-bot into this
# process, and into its memory figure).
CONCURRENT_UPDATES = 256
POLL_TIMEOUT = 10


async def echo_text(message: Message, bot: Bot) -> None:
    await bot.send_message(message.chat.id, message.text or "")


async def echo_press(query: CallbackQuery, bot: Bot) -> None:
    assert isinstance(query.message, Message)
    await query.answer()
    await query.message.edit_text(f"{query.message.text}\n\n» {query.data}")
    await bot.send_message(query.message.chat.id, query.data or "")


def echo_bot(base_url: str, token: str) -> tuple[Bot, Dispatcher]:
    """The bot on the fake: its base_url is `http://host:port/bot` (python-telegram-bot adds the
    token and the method), aiogram's server takes the address before `/bot`."""
    server = TelegramAPIServer.from_base(base_url.removesuffix("/bot"))
    bot = Bot(token, session=AiohttpSession(api=server, limit=CONCURRENT_UPDATES))
    dispatcher = Dispatcher()
    dispatcher.message.register(echo_text, F.text)
    dispatcher.callback_query.register(echo_press)
    return bot, dispatcher


async def run(base_url: str, token: str, conn: Connection) -> None:
    bot, dispatcher = echo_bot(base_url, token)
    await bot.me()  # as python-telegram-bot's initialize and start_polling do, before "ready"
    await bot.delete_webhook()
    polling_started = asyncio.Event()
    dispatcher.startup.register(polling_started.set)
    polling = asyncio.create_task(dispatcher.start_polling(
        bot,
        polling_timeout=POLL_TIMEOUT,
        handle_as_tasks=True,
        tasks_concurrency_limit=CONCURRENT_UPDATES,
        allowed_updates=None,
        handle_signals=False,
    ))
    await polling_started.wait()
    try:
        await measured(conn)
    finally:
        await dispatcher.stop_polling()  # closes the bot's session too
        await polling


def main(base_url: str, token: str, conn: Connection) -> None:
    asyncio.run(run(base_url, token, conn))
