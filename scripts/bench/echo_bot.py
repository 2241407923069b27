"""A bare python-telegram-bot echo bot in a process of its own, making the screening bot's three
calls per press (answer the press, edit the pressed message, send a message) and one per text;
on the library's default transport (httpx) or on the bot's aiohttp one."""

from __future__ import annotations

import asyncio
import importlib.util
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType

from telegram import Message, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from scripts.bench.measure import measured

ROOT = Path(__file__).resolve().parent.parent.parent
CONCURRENT_UPDATES = 256  # as the screening bot (bot/channels/telegram/ordering.py)
POLL_TIMEOUT = 10.0


def aiohttp_transport() -> ModuleType:
    """bot/channels/telegram/request.py on its own: through its package it would bring the whole
    screening bot into this process, and into its memory figure."""
    path = ROOT / "bot" / "channels" / "telegram" / "request.py"
    spec = importlib.util.spec_from_file_location("bench_request", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def echo_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await context.bot.send_message(update.message.chat_id, update.message.text or "")


async def echo_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    await query.answer()
    await query.edit_message_text(f"{query.message.text}\n\n» {query.data}")
    await context.bot.send_message(query.message.chat.id, query.data or "")


def echo_application(base_url: str, token: str, transport: str) -> Application:
    builder = ApplicationBuilder().token(token).base_url(base_url)
    if transport == "aiohttp":
        request = aiohttp_transport().AiohttpRequest
        builder = builder.request(request()).get_updates_request(request(connection_pool_size=1))
    application = builder.concurrent_updates(CONCURRENT_UPDATES).build()
    application.add_handler(MessageHandler(filters.TEXT, echo_text))
    application.add_handler(CallbackQueryHandler(echo_press))
    return application


async def run(base_url: str, token: str, transport: str, conn: Connection) -> None:
    application = echo_application(base_url, token, transport)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=POLL_TIMEOUT)
        try:
            await measured(conn)
        finally:
            await application.updater.stop()
            await application.stop()


def main(base_url: str, token: str, transport: str, conn: Connection) -> None:
    asyncio.run(run(base_url, token, transport, conn))
