"""The bot against the fake Discord (tests/fakes/discord): `server`, the fake plus the bot
processes (runners) started against it and stopped after the test, and `person`, which makes
people on the fake's server.

Opt-in, not registered in tests/conftest.py: `person` and `server` name other things in other
modules (a DialogClient, a web server), so a module that wants these imports them:

    from tests.harness.discord import person, server  # noqa: F401  (the Discord fixtures)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.channels.discord import DiscordChannel
from bot.channels.discord.lifecycle import DISCORD_API, DISCORD_GATEWAY
from bot.channels.discord.render import CHANNEL
from bot.run import Runner
from bot.settings import Settings, load_settings
from bot.store.sqlite import SQLiteStore
from bot.turns.runner import TurnRunner
from tests.conftest import SAFETY_QUESTIONS_NO_INJURY
from tests.fakes.discord import FakeDiscord, Person

TOKEN = "fake-discord-token-4f9a1c"

# Button labels from dialogs/knee.yaml, in the order a person with hip trouble presses them:
# for herself, no recent injury, "No" to every safety question; in the pick-several questions
# she picks (each pick edits the question in place) and then presses "Done".
THROUGH_THE_CHECK = [
    "Let's start",
    "Me",
    "18 to 54",
    "No",
    "No swelling",
    "No",
    *["No"] * len(SAFETY_QUESTIONS_NO_INJURY),
    "Front, around the kneecap",
    "Squatting",
    "Done",
    "More than 3 months",
    "Skip this one",
    "No scans",
    "No",
    "No",
    "Lifting or gym",
    "Done",
    "No",
    "No",
    "Yes",
    "Do the checks now",
    "Foot and knee stay steady",
    "Yes, knee touches the wall",
    "Hips feel tight, can't go deep",
    "Knees drift in toward each other",
    "Done",
    "Yes",
    "Pelvis drops or knee drifts in",
]

@dataclass
class Server:
    """The fake Discord plus the bot processes started against it, stopped after a test."""

    fake: FakeDiscord
    data_dir: Path
    runners: list[Runner] = field(default_factory=list)
    stopped: set[int] = field(default_factory=set)

    def settings(self, guild_id: int | None = None, **overrides: object) -> Settings:
        return load_settings(
            data_dir=self.data_dir,
            discord_token=TOKEN,
            discord_api_url=self.fake.url,
            discord_guild_id=guild_id,
            web_port=0,
            **overrides,
        )

    async def start_bot(self, guild_id: int | None = None, **overrides: object) -> Runner:
        """A fresh bot process: new runner, client and engine, the same SQLite file."""
        runner = Runner(self.settings(guild_id, **overrides), only=["discord"])
        self.listen(runner)
        self.runners.append(runner)
        await runner.start()
        return runner

    def listen(self, runner: Runner) -> None:
        """The fake hears from the runner's Discord channel when each update is handled."""
        for channel in runner.channels:
            if isinstance(channel, DiscordChannel):
                self.fake.listen_to(channel)

    @property
    def engine(self) -> TurnRunner:
        """The engine of the bot started last."""
        return self.runners[-1].engine

    @property
    def channel(self) -> DiscordChannel:
        (channel,) = self.runners[-1].channels
        assert isinstance(channel, DiscordChannel)
        return channel

    async def stop_bot(self) -> None:
        """The bot process ends (a deploy, SIGTERM): the runner stops everything."""
        runner = self.runners[-1]
        self.stopped.add(id(runner))
        await runner.stop()

    async def turn_of(self, user_id: int) -> int:
        store = SQLiteStore(self.data_dir / "bot.sqlite3")
        conversation = await store.load(CHANNEL, str(user_id))
        await store.close()
        return conversation.turn if conversation else 0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    fake = FakeDiscord(TOKEN)
    await fake.start()
    server = Server(fake, tmp_path)
    yield server
    for runner in server.runners:
        if id(runner) not in server.stopped:
            await runner.stop()
    await fake.stop()
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = DISCORD_API, DISCORD_GATEWAY  # as found


@pytest.fixture
def person(server: Server) -> Callable[..., Person]:
    def make(user_id: int, name: str, permissions: int = 0) -> Person:
        server.fake.add_user(user_id, name)
        return Person(server.fake, user_id, permissions)

    return make
