"""The bot against the fake Bot API (tests/fakes/telegram): the `telegram` fixture, the settings
a bot on it runs with (polling or webhook), and the bot running as `python -m bot telegram`
runs it, with a way to wait until it handled an update.

    @pytest.mark.fake_telegram(ALEX, GROUP)        # chats the fake knows before the test
    @pytest.mark.fake_telegram(fake=FakeTelegramWithUploads)  # a fake that does more
    async def test_something(telegram: FakeTelegram, tmp_path: Path) -> None:
        async with bot_running(telegram_settings(tmp_path, telegram), telegram) as bot:
            alex = bot.person()
            await start_to_pain_questions(alex)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
)

from bot.channels.telegram import TelegramChannel
from bot.core.conversation import Conversation
from bot.run import Runner
from bot.settings import Settings, load_settings
from bot.turns.runner import TurnRunner
from tests.conftest import TO_PAIN_QUESTIONS
from tests.fakes.telegram import TOKEN, FakeTelegram, HandledUpdates, Person, SentMessage
from tests.harness.ports import free_port

ALEX = {"id": 501, "type": "private", "first_name": "Alex"}  # RunningBot.person()'s chat
# Telegram's refusals (status, description) and the library's error each becomes.
REFUSALS = [
    (401, "Unauthorized", InvalidToken),
    (403, "Forbidden: bot was blocked by the user", Forbidden),
    (400, "Bad Request: chat not found", BadRequest),
    (409, "Conflict: terminated by other getUpdates request", Conflict),
    (500, "Internal Server Error", NetworkError),
    (502, "Bad Gateway", NetworkError),
]


@pytest.fixture
async def telegram(request: pytest.FixtureRequest) -> AsyncIterator[FakeTelegram]:
    """The fake Bot API on 127.0.0.1; `@pytest.mark.fake_telegram(*chats, fake=...)` registers
    chats on it first, or runs a subclass that does more."""
    marker = request.node.get_closest_marker("fake_telegram")
    chats, kind = ((), FakeTelegram) if marker is None else (
        marker.args, marker.kwargs.get("fake", FakeTelegram))
    async with kind() as fake:
        for chat in chats:
            fake.register_chat(chat)
        yield fake


@dataclass
class RunningBot:
    """The runner with only Telegram started, and a way to wait for handled updates."""

    runner: Runner
    channel: TelegramChannel
    handled: HandledUpdates
    telegram: FakeTelegram

    @property
    def engine(self) -> TurnRunner:
        return self.runner.engine

    def person(
        self, user_id: int = 501, first_name: str = "Alex", chat: dict[str, object] | None = None
    ) -> Person:
        """Someone in a chat with the bot: their private chat unless another is given."""
        return Person(self.telegram, self.handled.wait, user_id, first_name, chat or {})

    async def state_of(self, person: Person) -> str:
        return (await self.conversation_of(person)).state

    async def conversation_of(self, person: Person) -> Conversation:
        conversation = await self.engine.store.load("telegram", str(person.user_id))
        assert conversation is not None
        return conversation


def telegram_settings(tmp_path: Path, telegram: FakeTelegram, **overrides: object) -> Settings:
    """Settings of a bot polling the fake, on SQLite in `tmp_path`."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "telegram_token": TOKEN,
        "telegram_base_url": telegram.base_url,
        "telegram_base_file_url": telegram.base_file_url,
        "web_port": 0,  # any free port: the runner always serves the web app
    }
    return load_settings(**(values | overrides))


def webhook_settings(tmp_path: Path, telegram: FakeTelegram, **overrides: object) -> Settings:
    """Webhook mode with a known secret, on a known port behind a public https:// address:
    the fake posts there through its stand-in for the practice's reverse proxy."""
    port = free_port()
    telegram.reverse_proxy = f"http://127.0.0.1:{port}"
    values: dict[str, object] = {
        "web_port": port,
        "telegram_webhook_url": "https://bot.practice.test/telegram",
        "telegram_webhook_secret": "right-webhook-secret-7Qx",
    }
    return telegram_settings(tmp_path, telegram, **(values | overrides))


def local_url(settings: Settings, path: str) -> str:
    """An address on the bot's own web server, as the reverse proxy reaches it."""
    return f"http://127.0.0.1:{settings.web_port}{path}"


async def start_bot(
    settings: Settings, telegram: FakeTelegram, webhook: bool = False
) -> RunningBot:
    """The bot as `python -m bot telegram` runs it: the runner, with only Telegram."""
    runner = Runner(settings, only=["telegram"], webhook=webhook)
    (channel,) = runner.channels
    assert isinstance(channel, TelegramChannel)
    handled = HandledUpdates()
    handled.attach(channel)
    try:
        await runner.start()
    except BaseException:
        await runner.stop()
        raise
    return RunningBot(runner, channel, handled, telegram)


@asynccontextmanager
async def bot_running(
    settings: Settings, telegram: FakeTelegram, webhook: bool = False
) -> AsyncIterator[RunningBot]:
    """`start_bot`, stopped at the end of the block."""
    bot = await start_bot(settings, telegram, webhook)
    try:
        yield bot
    finally:
        await bot.runner.stop()


async def start_to_pain_questions(person: Person) -> None:
    """/start, then by buttons to the first question about the pain (tests/conftest.py)."""
    await person.send("/start")
    for choice_id in TO_PAIN_QUESTIONS:
        await person.choose(choice_id)


def texts(messages: list[SentMessage]) -> str:
    """What the bot sent, one message a line."""
    return "\n".join(message.text for message in messages)
