"""People on the practice's Discord server, as the fake sees them act and what they see.

A `Person` runs slash commands, presses buttons and types in their DM with the bot; each
action waits until the bot reports it handled (see `FakeDiscord.settle`). A `StaffMember`
replies to notices in the private staff channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.discord.markdown import read
from tests.fakes.discord.server import FakeDiscord, Sent


@dataclass
class Person:
    """Someone on the practice's server."""

    fake: FakeDiscord
    user_id: int
    permissions: int = 0

    async def runs(self, command: str, *, in_dm: bool = False) -> None:
        await self.fake.slash(
            self.user_id, command, in_guild=not in_dm, permissions=self.permissions
        )
        await self.fake.settle()

    async def presses(self, label: str, on: Sent | None = None) -> None:
        message = on or self.latest_with(label)
        button = message.button(label)
        assert button is not None, f"no {label!r} button on {message.content[:60]!r}"
        await self.fake.click(self.user_id, message, button["custom_id"])
        await self.fake.settle()

    async def double_clicks(self, label: str) -> None:
        """Two presses of one button that reach the bot at the same moment."""
        message = self.latest_with(label)
        button = message.button(label)
        assert button is not None
        await self.fake.click(self.user_id, message, button["custom_id"])
        await self.fake.click(self.user_id, message, button["custom_id"])
        await self.fake.settle()

    async def types(self, text: str) -> None:
        await self.fake.dm(self.user_id, text)
        await self.fake.settle()

    def sees(self) -> list[Sent]:
        """Every bot message only this person sees: their DM and ephemeral replies."""
        return self.fake.visible_to(self.user_id)

    def latest_with(self, label: str) -> Sent:
        found = [s for s in self.sees() if s.button(label)]
        assert found, f"{label!r} is not on any message this person sees"
        return found[-1]

    def last_message(self) -> Sent:
        return self.sees()[-1]

    def reads(self) -> str:
        """The last message as it shows on their screen."""
        return read(self.last_message().content).text

    def dm(self) -> list[Sent]:
        return [s for s in self.sees() if not s.ephemeral]


@dataclass
class StaffMember:
    """Someone on the practice's team, reading the private staff channel."""

    fake: FakeDiscord
    user_id: int

    async def replies(self, to: Sent, text: str, *, mention: bool = True) -> None:
        """Discord's Reply on a message in the staff channel (with @ON unless `mention` is
        False); waits until the bot has done what it does with it, if anything."""
        await self.fake.reply(self.user_id, to, text, mention=mention)
        await self.fake.settle()

    def notices(self) -> list[Sent]:
        return self.fake.staff_posts()
