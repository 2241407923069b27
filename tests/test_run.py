"""`python -m bot run`: Telegram and Discord served by one process, and a SIGTERM that lets
every update in flight on both platforms be answered before the process exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.settings import ROOT
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord import Person as DiscordPerson
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram import Person as TelegramPerson

pytestmark = pytest.mark.process  # `python -m bot run`

TELEGRAM_TOKEN = "123456:run-test-telegram-token"
DISCORD_TOKEN = "fake-discord-token-run-test"
ANNA = 4401


def run_env(tmp_path: Path, telegram: FakeTelegram, discord: FakeDiscord) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    return env | {
        "BOT_SETTINGS_FILE": os.devnull,
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "BOT_WEB_PORT": "0",
        "BOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "BOT_TELEGRAM_BASE_URL": telegram.base_url,
        "BOT_DISCORD_TOKEN": DISCORD_TOKEN,
        "BOT_DISCORD_API_URL": discord.url,
    }


async def test_one_process_serves_both_platforms_and_sigterm_answers_both_then_exits_0(
    tmp_path: Path,
) -> None:
    discord = FakeDiscord(DISCORD_TOKEN)
    await discord.start()
    try:
        async with FakeTelegram(TELEGRAM_TOKEN) as telegram:
            await _serve_both_then_stop(tmp_path, telegram, discord)
    finally:
        await discord.stop()


async def _serve_both_then_stop(
    tmp_path: Path, telegram: FakeTelegram, discord: FakeDiscord
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=run_env(tmp_path, telegram, discord),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await telegram.wait_for_calls("getUpdates", 1, timeout=30)
        await discord.wait_identified(1, timeout=30)
        await discord.until(lambda: discord.command_syncs, 10, "no command sync")
        # Both platforms answer the same process.
        alex = TelegramPerson(telegram, lambda _: asyncio.sleep(0), 901)
        discord.add_user(ANNA, "anna")
        anna = DiscordPerson(discord, ANNA, 0)
        await telegram.push(telegram.message_update(alex.user, alex.chat, text="/start"))
        await telegram.wait_for_messages(alex.user_id, 1, timeout=20)
        assert "knee-pain check" in alex.received[0].text
        # Then updates in flight on both when SIGTERM comes: each is still answered.
        telegram.slow_down("sendMessage", 0.5)
        discord.slow_sends = 1.0
        await telegram.push(telegram.message_update(alex.user, alex.chat, text="/help"))
        interaction = await discord.slash(ANNA, "kneecheck")
        await discord.until(lambda: interaction.acked_at is not None, 10, "not deferred")
        await telegram.wait_for_calls("sendMessage", 2, timeout=20)
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, output.decode()
    assert any("Here's what I can do" in m.text for m in alex.received[1:])
    assert "knee-pain check" in anna.dm()[0].content
    text = output.decode()
    assert "Traceback" not in text and TELEGRAM_TOKEN not in text and DISCORD_TOKEN not in text
