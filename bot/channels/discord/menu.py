"""The slash commands Discord shows, all read from the command registry.

The registry (dialogs/commands.yaml and each flow's `entry`) says which commands the Discord
menu offers and which flow an entry command opens. One command is Discord's own: moderators
post a public start button for the default flow, named after that flow's Discord entry
command (`post-` + its name).

Where the commands show: synced globally, in every server the bot is in and in its DMs (where
the screening runs). With BOT_DISCORD_GUILD_ID they are that server's own as well, which show
there at once; a server's own commands never show in DMs, so the global copy then shows in DMs
only, and no command shows twice in the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from bot.channels.discord.render import CHANNEL
from bot.core.channels import DISCORD
from bot.engine.commands import Command
from bot.turns.runner import TurnRunner

POST_PREFIX = "post-"
DESCRIPTION_LIMIT = DISCORD.menu_description_limit
NAME_LIMIT = 32  # Discord's application command names (Application Commands: name, 1-32)
MODERATORS = discord.Permissions(manage_guild=True)
IN_GUILD, IN_BOT_DM = 0, 1  # where a command may be used (Discord's interaction contexts)
EVERYWHERE, IN_DMS = [IN_GUILD, IN_BOT_DM], [IN_BOT_DM]


@dataclass(frozen=True, slots=True)
class Menu:
    """The registry's Discord menu, and the default flow's start button."""

    commands: tuple[Command, ...]
    descriptions: dict[str, str]
    start: Command | None  # the default flow's Discord entry command, if it has one
    start_label: str  # the public start button's label
    post_description: str

    @property
    def post(self) -> str:
        """The moderators' command that posts the start button; "" without an entry. Discord
        takes command names of 32 characters at most: a long entry name is cut to fit."""
        if self.start is None:
            return ""
        return (POST_PREFIX + self.start.name)[:NAME_LIMIT].rstrip("-_")

    def command(self, name: str) -> Command | None:
        """The registry command a slash command or start button names, if Discord offers it."""
        return next((c for c in self.commands if c.name == name), None)

    def payload(self, contexts: list[int] | None = EVERYWHERE) -> list[dict[str, Any]]:
        """Every command as Discord's bulk overwrite takes it, used where `contexts` say (a
        global command), or None for one server's own (which take no contexts). The
        moderators' command is for servers only."""
        where = {"contexts": contexts} if contexts is not None else {}
        everyone = [
            {"type": 1, "name": c.name, "description": self.descriptions[c.name], **where,
             "default_member_permissions": None}
            for c in self.commands
        ]
        if not self.post or contexts == IN_DMS:
            return everyone
        in_servers = {"contexts": [IN_GUILD]} if contexts is not None else {}
        moderators = {"type": 1, "name": self.post, "description": self.post_description,
                      **in_servers, "default_member_permissions": str(MODERATORS.value)}
        return [*everyone, moderators]


def build_menu(engine: TurnRunner) -> Menu:
    """The menu from the registry; descriptions from the flow file or common/commands.j2."""
    commands = tuple(engine.commands.for_menu(CHANNEL))
    names = engine.compose.render_names("common/commands.j2")
    descriptions = {
        c.name: fit(c.description or str(getattr(names, c.name, "")) or c.name)
        for c in commands
    }
    default = engine.settings.default_flow
    start = next((c for c in commands if c.flow == default), None)
    labels = engine.renderer.names("discord/labels.j2", practice=engine.settings.practice,
                                   start_flow=engine.flows.get(default), entry=start)
    return Menu(commands, descriptions, start, str(labels.start_button),
                fit(str(labels.post)))


def fit(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """A description within Discord's limit, cut at a word with an ellipsis when too long
    (a long practice name makes `/book`'s longer than 100)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,.;:-") + "…"


async def sync(client: discord.Client, menu: Menu, guild_id: int | None) -> int:
    """Overwrite the commands globally, for servers and DMs; with a guild, that server's own
    (they show at once) and the global ones for DMs only. How many were synced."""
    app = client.application_id
    assert app is not None  # known once logged in
    if guild_id is None:
        return len(await client.http.bulk_upsert_global_commands(app, menu.payload()))
    own = await client.http.bulk_upsert_guild_commands(app, guild_id, menu.payload(None))
    dms = await client.http.bulk_upsert_global_commands(app, menu.payload(IN_DMS))
    return len(own) + len(dms)
