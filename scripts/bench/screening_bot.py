"""The screening bot in a process of its own, as `python -m bot telegram` runs it: the runner
with the web server, the daily purge and `TelegramChannel`, SQLite in a folder of its own, the
transport from the settings (aiohttp by default)."""

from __future__ import annotations

import asyncio
from multiprocessing.connection import Connection
from pathlib import Path

from telegram.ext import AIORateLimiter

import bot.cli  # noqa: F401  (what the real process loads, for a true peak RSS)
from bot.channels.telegram import TelegramChannel
from bot.run import Runner, keep_startup_objects
from bot.settings import load_settings
from scripts.bench.measure import measured


def unthrottled_limiter() -> AIORateLimiter:
    """429s are still retried, but no 30 messages/s cap: that would measure the cap."""
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=5)


async def run(
    base_url: str, token: str, data_dir: Path, transport: str, conn: Connection
) -> None:
    settings = load_settings(
        data_dir=data_dir,
        telegram_transport=transport,
        telegram_token=token,
        telegram_base_url=base_url,
        telegram_base_file_url=base_url.replace("/bot", "/file/bot"),
        web_port=0,
    )
    runner = Runner(settings, only=[])  # the web server and the purge; Telegram added below
    runner.channels.append(
        TelegramChannel(runner.engine, settings, rate_limiter=unthrottled_limiter())
    )
    await runner.start()
    keep_startup_objects()  # as serve_until_stopped does
    try:
        await measured(conn)
    finally:
        await runner.stop()


def main(base_url: str, token: str, data_dir: Path, transport: str, conn: Connection) -> None:
    asyncio.run(run(base_url, token, data_dir, transport, conn))
