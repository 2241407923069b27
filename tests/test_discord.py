"""The Discord channel end to end: the real discord.py client against a fake Discord.

The fake (tests/fakes/discord_api.py) serves REST and the gateway on 127.0.0.1; each test is a
person using the server and their DMs, and checks what they (and everyone else) can see.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import build_engine
from bot.channels.discord import CHANNEL, START_BUTTON_ID, ScreeningBot, markdown_chunks
from bot.engine.engine import Engine
from bot.settings import Settings
from bot.store.sqlite import SQLiteStore
from tests.fakes.discord_api import GUILD_ID, MANAGE_GUILD, FakeDiscord, Sent

TOKEN = "fake-discord-token-4f9a1c"
ROOT = Path(__file__).resolve().parent.parent
ANNA, BEN, MOD = 101, 102, 103

# Button labels from dialogs/knee.yaml, in the order a person with hip trouble answers them.
RED_FLAGS_ALL_NO = ["No"] * 8
THROUGH_THE_CHECK = [
    "Let's start",
    *RED_FLAGS_ALL_NO,
    "Front, around the kneecap",
    "Squatting",
    "More than 3 months",
    "Skip this one",
    "No scans",
    "Foot and knee stay steady",
    "No",
    "No",
    "Yes, knee touches the wall",
    "Hips feel tight, I can't go deep",
    "Yes",
    "Pelvis drops or knee drifts in",
    "Running",
    "Yes",
    "No",
    "Yes",
]


# -- harness ------------------------------------------------------------------------------------


@dataclass
class Server:
    """The fake Discord plus the bots started against it, stopped at the end of a test."""

    fake: FakeDiscord
    data_dir: Path
    bots: list[tuple[ScreeningBot, asyncio.Task[None], Engine]] = field(default_factory=list)

    def settings(self, guild_id: int | None = None) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            discord_token=TOKEN,
            discord_api_url=self.fake.url,
            discord_guild_id=guild_id,
        )

    async def start_bot(self, guild_id: int | None = None) -> ScreeningBot:
        """A fresh bot process: new client, new engine, the same SQLite file."""
        settings = self.settings(guild_id)
        engine = build_engine(settings)
        bot = ScreeningBot(engine, settings.discord_guild_id, settings.discord_api_url)
        task = asyncio.create_task(bot.start(TOKEN))
        self.bots.append((bot, task, engine))
        identified = asyncio.create_task(self.fake.wait_identified(len(self.bots)))
        await asyncio.wait([task, identified], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            identified.cancel()
            task.result()  # the bot stopped during start-up: show why
        await identified
        return bot

    async def stop_bot(self) -> None:
        """The bot process ends (a deploy, a crash)."""
        bot, task, engine = self.bots[-1]
        await bot.close()
        await task
        await engine.store.close()

    async def turn_of(self, user_id: int) -> int:
        store = SQLiteStore(self.data_dir / "bot.sqlite3")
        conversation = await store.load(CHANNEL, str(user_id))
        await store.close()
        return conversation.turn if conversation else 0


@dataclass
class Person:
    """Someone on the practice's server."""

    fake: FakeDiscord
    user_id: int
    permissions: int = 0

    async def runs(self, command: str, *, in_dm: bool = False) -> None:
        since = len(self.fake.requests)
        await self.fake.slash(
            self.user_id, command, in_guild=not in_dm, permissions=self.permissions
        )
        await self.fake.settle(since)

    async def presses(self, label: str, on: Sent | None = None) -> None:
        message = on or self.latest_with(label)
        button = message.button(label)
        assert button is not None, f"no {label!r} button on {message.content[:60]!r}"
        since = len(self.fake.requests)
        await self.fake.click(self.user_id, message, button["custom_id"])
        await self.fake.settle(since)

    async def types(self, text: str) -> None:
        since = len(self.fake.requests)
        await self.fake.dm(self.user_id, text)
        await self.fake.settle(since)

    def sees(self) -> list[Sent]:
        return self.fake.visible_to(self.user_id)

    def latest_with(self, label: str) -> Sent:
        found = [s for s in self.sees() if s.button(label)]
        assert found, f"{label!r} is not on any message this person sees"
        return found[-1]

    def last_message(self) -> Sent:
        return self.sees()[-1]

    def dm(self) -> list[Sent]:
        return [s for s in self.sees() if not s.ephemeral]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    fake = FakeDiscord(TOKEN)
    await fake.start()
    server = Server(fake, tmp_path)
    yield server
    for bot, task, engine in server.bots:
        if not bot.is_closed():
            await bot.close()
            await asyncio.gather(task, return_exceptions=True)
            await engine.store.close()
    await fake.stop()


@pytest.fixture
def person(server: Server) -> Callable[[int, str], Person]:
    def make(user_id: int, name: str, permissions: int = 0) -> Person:
        server.fake.add_user(user_id, name)
        return Person(server.fake, user_id, permissions)

    return make


def assert_every_interaction_acknowledged_in_time(fake: FakeDiscord) -> None:
    assert fake.interactions
    for interaction in fake.interactions.values():
        assert interaction.acked_at is not None, f"interaction {interaction.id} never answered"
        assert interaction.acked_at - interaction.sent_at < 3.0


def assert_nothing_public_but(fake: FakeDiscord, allowed: list[Sent]) -> None:
    assert [s.id for s in fake.public()] == [s.id for s in allowed]


# -- stories ------------------------------------------------------------------------------------


async def test_person_screens_privately_in_dm_after_kneecheck(server: Server, person) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")

    await anna.runs("kneecheck")

    note = [s for s in anna.sees() if s.ephemeral]
    assert len(note) == 1 and "sent you a DM" in note[0].content
    welcome = anna.dm()[0]
    assert "knee-pain check" in welcome.content
    assert f"/channels/@me/{server.fake.dm_channels[ANNA]}/{welcome.id}" in note[0].content

    for label in THROUGH_THE_CHECK:
        await anna.presses(label)

    result = anna.last_message()
    assert "likely contributors" in result.content
    links = {b["label"]: b.get("url") for b in result.buttons}
    assert links["Book a complimentary call"].startswith("https://calendly.example.com/")
    assert all(b["style"] == 5 for b in result.buttons)  # link buttons, nothing to press
    answered = [s for s in anna.dm() if "Your answer:" in s.content]
    assert len(answered) == len(THROUGH_THE_CHECK)
    assert all(not s.buttons for s in answered)
    assert any(
        s.content.endswith("**Your answer:** Hips feel tight, I can't go deep") for s in answered
    )
    assert_nothing_public_but(server.fake, [])
    assert_every_interaction_acknowledged_in_time(server.fake)
    assert not server.fake.unknown_routes
