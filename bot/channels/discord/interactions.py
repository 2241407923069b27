"""Slash commands and button presses: acknowledged at once, then Event -> engine -> reply.

A flow opens in the person's DMs (ephemeral replies only when their DMs are closed), so health
answers never appear in a public channel; other commands are answered privately where asked.
Every interaction arrives here, in `received`, and is routed by what the person did.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.channels.discord.dms import send_to_dm
from bot.channels.discord.menu import Menu
from bot.channels.discord.render import (
    CHANNEL,
    MESSAGE_LIMIT,
    NO_MENTIONS,
    links_only,
    message_parts,
    notice,
    read_choice,
    read_start,
    reply_parts,
    start_view,
    with_view,
)
from bot.core.events import Event, EventKind, Reply
from bot.turns.runner import TurnRunner

log = logging.getLogger(__name__)


class Interactions:
    """Handlers named for what the person did; each hands an Event to the engine."""

    def __init__(self, engine: TurnRunner, menu: Menu) -> None:
        self.engine = engine
        self.menu = menu

    async def received(self, interaction: discord.Interaction) -> None:
        """Any interaction; a failure gets an apology, never "This interaction failed"."""
        try:
            if interaction.type is discord.InteractionType.application_command:
                await self._ran_command(interaction)
            elif interaction.type is discord.InteractionType.component:
                await self._pressed_button(interaction)
        except Exception:
            log.exception("discord: an interaction failed")
            await self._apologise(interaction)

    async def _ran_command(self, interaction: discord.Interaction) -> None:
        name = str((interaction.data or {}).get("name", ""))
        command = self.menu.command(name)
        if self.menu.post and name == self.menu.post:
            await self.posted_start_button(interaction)
        elif command is not None and command.opens_flow:
            await self.started_flow(interaction, command.name)
        else:  # an info command, or one no longer offered: the engine says which
            await self.ran_command(interaction, name)

    async def _pressed_button(self, interaction: discord.Interaction) -> None:
        custom_id = str((interaction.data or {}).get("custom_id", ""))
        choice = read_choice(custom_id)
        entry = self.engine.commands.get(read_start(custom_id) or "")
        if choice is not None:
            await self.pressed_choice(interaction, *choice)
        elif entry is not None and entry.flow:
            await self.started_flow(interaction, entry.name)
        else:
            await self.pressed_unknown_button(interaction)

    # -- what people do -------------------------------------------------------------------------

    async def started_flow(self, interaction: discord.Interaction, command: str) -> None:
        """A flow's entry command (e.g. /contact) or the public start button: the flow
        opens in the person's DMs, where it stays and where typing is private."""
        await _defer_privately(interaction)
        reply = await self._handle(interaction, EventKind.COMMAND, command=command)
        if interaction.guild_id is None:
            await self._send_followups(interaction, reply)
            return
        first = await send_to_dm(interaction.user, reply)
        if first is not None:
            note = notice(self.engine, "discord/moved_to_dm.j2", dm_url=first.jump_url)
            await interaction.followup.send(note, ephemeral=True)
            return
        if not reply.expects_text:  # else the typing note, after the question, says it
            await interaction.followup.send(notice(self.engine, "discord/dm_closed.j2"),
                                            ephemeral=True)
        await self._send_followups(interaction, reply)

    async def ran_command(self, interaction: discord.Interaction, name: str) -> None:
        """/book, /youtube, /podcast, /about, /help, /forget: answered privately where asked."""
        await _defer_privately(interaction)
        reply = await self._handle(interaction, EventKind.COMMAND, command=name)
        await self._send_followups(interaction, reply)

    async def pressed_choice(self, interaction: discord.Interaction, turn: int,
                             choice_id: str) -> None:
        """A choice button: acknowledge at once, then show the answer and what comes next.

        A pick in a pick-several question changes the question itself: the pressed message is
        edited in place (picked buttons green, buttons for the new turn), nothing is sent.
        A press on an old button (or on buttons from before the last pick) is stale: the
        engine says so and shows the current question again.
        """
        await interaction.response.defer()
        reply = await self._handle(interaction, EventKind.PRESS, choice_id=choice_id, turn=turn)
        if reply.edit and await self._edit_pressed(interaction, reply):
            return
        if not reply.stale and not reply.edit:
            await interaction.edit_original_response(content=self._answered(interaction, reply),
                                                     view=links_only(interaction.message))
        await self._send_followups(interaction, reply)

    async def posted_start_button(self, interaction: discord.Interaction) -> None:
        """Moderators: a public message with the start button of the default flow."""
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            await self._say_privately(interaction, self._notice("discord/moderators_only.j2"))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = interaction.channel
        assert self.menu.start is not None  # there is no post command without an entry
        view = start_view(self.menu.start.name, self.menu.start_label)
        try:
            if not isinstance(channel, discord.abc.Messageable):
                raise TypeError("this channel takes no messages")
            await channel.send(self._notice("discord/start_post.j2"), view=view,
                               allowed_mentions=NO_MENTIONS)
        except (discord.Forbidden, TypeError):
            await interaction.followup.send(self._notice("discord/post_failed.j2"),
                                            ephemeral=True)
            return
        await interaction.followup.send(self._notice("discord/posted.j2"), ephemeral=True)

    async def pressed_unknown_button(self, interaction: discord.Interaction) -> None:
        """A button this bot no longer reads (from an older version): say how to start."""
        await self._say_privately(interaction, self._notice("discord/old_button.j2"))

    # -- plumbing -------------------------------------------------------------------------------

    async def _handle(self, interaction: discord.Interaction, kind: EventKind,
                      **fields: Any) -> Reply:
        event = Event(CHANNEL, str(interaction.user.id), kind, update_id=str(interaction.id),
                      **fields)
        return await self.engine.handle(event)

    async def _edit_pressed(self, interaction: discord.Interaction, reply: Reply) -> bool:
        """The pressed message becomes the reply's one message; False when Discord refuses
        (the message was deleted), so the caller sends it instead."""
        if len(reply.messages) != 1:
            return False
        parts = message_parts(reply.messages[0], reply.turn)
        if not parts:
            return False
        content, view = parts[-1]  # a long question's buttons sit on its last part
        try:
            await interaction.edit_original_response(content=content, view=view)
        except discord.HTTPException as error:
            log.info("discord: could not edit the pressed message: %s", error.status)
            return False
        return True

    def _answered(self, interaction: discord.Interaction, reply: Reply) -> str:
        content = interaction.message.content if interaction.message else ""
        answer = reply.extras.get("answered")
        if not answer:
            return content
        line = notice(self.engine, "discord/answered.j2", answer=answer)
        return f"{content}\n\n{line}".strip()[:MESSAGE_LIMIT]

    async def _send_followups(self, interaction: discord.Interaction, reply: Reply) -> None:
        private = interaction.guild_id is not None  # in a server: only the person sees it
        for content, view in reply_parts(reply):
            await interaction.followup.send(content, ephemeral=private, **with_view(view))
        if private and reply.expects_text:
            await interaction.followup.send(self._notice("discord/typing_needs_dm.j2"),
                                            ephemeral=True)

    async def _say_privately(self, interaction: discord.Interaction, text: str) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)

    async def _apologise(self, interaction: discord.Interaction) -> None:
        try:
            await self._say_privately(interaction, self._notice("discord/error.j2"))
        except discord.HTTPException:
            log.warning("discord: could not tell the person something went wrong")

    def _notice(self, template: str) -> str:
        return notice(self.engine, template, start_button=self.menu.start_label,
                      entry=self.menu.start.name if self.menu.start else "")


async def _defer_privately(interaction: discord.Interaction) -> None:
    # In a DM nothing is public, and an ephemeral deferral would make the first follow-up
    # (the screening itself) ephemeral too, so it would vanish when Discord reloads.
    await interaction.response.defer(ephemeral=interaction.guild_id is not None, thinking=True)

