"""Slash commands and button presses: acknowledged at once, then Event -> engine -> outbox.

The interaction is acknowledged (deferred) inline, within Discord's 3 seconds: that is not a
reply. The turn's reply is saved in the outbox with the turn and sent by the flush after the
commit (delivery.py says where it goes), so a 429 or 5xx delays it, never loses it. What stays
inline is the channel's own and best effort: where the reply went ("sent you a DM"), the
"answered" line on a pressed question, and the edit in place of a pick in a pick-several
question (when that fails, the held reply is sent instead).

A flow opens in the person's DMs (ephemeral replies only when their DMs are closed), so health
answers never appear in a public channel; other commands are answered privately where asked.
Every interaction arrives here, in `received`, and is routed by what the person did.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from bot.channels.discord.delivery import SEND_ERRORS, Routes
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
    start_view,
)
from bot.core.effects import Address
from bot.core.events import Event, EventKind, Reply
from bot.turns.runner import TurnRunner

ACK_WITHIN = 2.5  # seconds to acknowledge in (Discord's window is 3 from the interaction)
ACK_RETRY_PAUSE = 0.2  # after a 503 on the acknowledgement, while the window lasts
ALREADY_ACKNOWLEDGED = 40060  # an earlier try got through after all
INLINE_WITHIN = 5.0  # seconds a best-effort edit or note may take
DMS = "https://discord.com/channels/@me"

log = logging.getLogger(__name__)


class Interactions:
    """Handlers named for what the person did; each hands an Event to the engine."""

    def __init__(self, engine: TurnRunner, menu: Menu, routes: Routes) -> None:
        self.engine = engine
        self.menu = menu
        self.routes = routes

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
        await _acknowledge(interaction, thinking=True)
        in_server = interaction.guild_id is not None
        reply = await self._turn(interaction, EventKind.COMMAND, dm_first=in_server,
                                 command=command)
        if in_server:
            await self._say_where_it_went(interaction, reply)

    async def ran_command(self, interaction: discord.Interaction, name: str) -> None:
        """/book, /youtube, /podcast, /about, /help, /forget: answered privately where asked."""
        await _acknowledge(interaction, thinking=True)
        reply = await self._turn(interaction, EventKind.COMMAND, command=name)
        await self._typing_note_if_needed(interaction, reply)

    async def pressed_choice(self, interaction: discord.Interaction, turn: int,
                             choice_id: str) -> None:
        """A choice button: acknowledge at once, then show the answer and what comes next.

        A pick in a pick-several question changes the question itself: the pressed message is
        edited in place (picked buttons green, buttons for the new turn), nothing is sent; when
        Discord refuses the edit, the held question is sent instead. A press on an old button
        (or on buttons from before the last pick) is stale: the engine says so and shows the
        current question again.
        """
        await _acknowledge(interaction, thinking=False)
        reply = await self._handle(interaction, EventKind.PRESS, choice_id=choice_id, turn=turn)
        address = Address(CHANNEL, str(interaction.user.id))
        self.routes.answer(interaction, reply.queued)  # answered where pressed
        if reply.edit and not reply.repeated:
            if await self._edit_pressed(interaction, reply):
                await self.engine.delivered(address, reply)
            else:  # the message is gone, or Discord failed: the question is sent anew
                await self.engine.send_instead(address, reply)
            return
        if not reply.stale and not reply.repeated:
            await self._show_answer(interaction, reply)
        await self.engine.flush(address)
        await self._typing_note_if_needed(interaction, reply)

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

    async def _turn(self, interaction: discord.Interaction, kind: EventKind, *,
                    dm_first: bool = False, **fields: Any) -> Reply:
        """The event applied, its reply queued with the turn, then sent from the outbox (the
        interaction's route remembered for it first)."""
        reply = await self._handle(interaction, kind, **fields)
        self.routes.answer(interaction, reply.queued, dm_first=dm_first)
        await self.engine.flush(Address(CHANNEL, str(interaction.user.id)))
        return reply

    async def _edit_pressed(self, interaction: discord.Interaction, reply: Reply) -> bool:
        """The pressed message becomes the reply's one message; False when Discord refuses
        (the message was deleted) or fails, so the caller sends it instead."""
        if len(reply.messages) != 1 or not interaction.response.is_done():
            return False
        parts = message_parts(reply.messages[0], reply.turn)
        if not parts:
            return False
        content, view = parts[-1]  # a long question's buttons sit on its last part
        try:
            async with asyncio.timeout(INLINE_WITHIN):
                await interaction.edit_original_response(content=content, view=view)
        except SEND_ERRORS as error:
            log.info("discord: could not edit the pressed message: %s %s",
                     type(error).__name__, getattr(error, "status", ""))
            return False
        return True

    async def _show_answer(self, interaction: discord.Interaction, reply: Reply) -> None:
        """The "answered" line on the pressed question, its choices gone: cosmetic, so a
        failure is only logged (the next question comes from the outbox either way)."""
        if not interaction.response.is_done():
            return  # never acknowledged: the pressed message cannot be edited through it
        await self._best_effort(interaction.edit_original_response(
            content=self._answered(interaction, reply), view=links_only(interaction.message)))

    def _answered(self, interaction: discord.Interaction, reply: Reply) -> str:
        content = interaction.message.content if interaction.message else ""
        answer = reply.extras.get("answered")
        if not answer:
            return content
        line = notice(self.engine, "discord/answered.j2", answer=answer)
        return f"{content}\n\n{line}".strip()[:MESSAGE_LIMIT]

    async def _say_where_it_went(self, interaction: discord.Interaction, reply: Reply) -> None:
        """After a flow opened from a server: where to find it (their DMs), or, when their DMs
        are closed, that it carries on here, privately."""
        user_id = str(interaction.user.id)
        if not self.routes.dms_closed(user_id):
            dm = interaction.user.dm_channel
            url = self.routes.first_in_dm(interaction) or (dm.jump_url if dm else DMS)
            await self._followup(interaction, notice(self.engine, "discord/moved_to_dm.j2",
                                                     dm_url=url))
            return
        if not reply.expects_text:  # else the typing note, after the question, says it
            await self._followup(interaction, notice(self.engine, "discord/dm_closed.j2"))
        await self._typing_note_if_needed(interaction, reply)

    async def _typing_note_if_needed(self, interaction: discord.Interaction,
                                     reply: Reply) -> None:
        """In a server, a question that wants typing: say that typing needs a DM."""
        in_server = interaction.guild_id is not None
        if in_server and reply.expects_text:
            await self._followup(interaction, self._notice("discord/typing_needs_dm.j2"))

    async def _followup(self, interaction: discord.Interaction, text: str) -> None:
        if interaction.response.is_done():
            await self._best_effort(interaction.followup.send(text, ephemeral=True))

    @staticmethod
    async def _best_effort(call: Any) -> None:
        try:
            async with asyncio.timeout(INLINE_WITHIN):
                await call
        except SEND_ERRORS as error:
            log.info("discord: a note or edit was not shown: %s %s", type(error).__name__,
                     getattr(error, "status", ""))

    async def _say_privately(self, interaction: discord.Interaction, text: str) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)

    async def _apologise(self, interaction: discord.Interaction) -> None:
        try:
            async with asyncio.timeout(INLINE_WITHIN):
                await self._say_privately(interaction, self._notice("discord/error.j2"))
        except SEND_ERRORS as error:
            log.warning("discord: could not tell the person something went wrong: %s",
                        type(error).__name__)

    def _notice(self, template: str) -> str:
        return notice(self.engine, template, start_button=self.menu.start_label,
                      entry=self.menu.start.name if self.menu.start else "")


async def _acknowledge(interaction: discord.Interaction, *, thinking: bool) -> bool:
    """Defer the interaction within Discord's window, trying again after a 5xx while it lasts;
    False when it could not be (the turn still runs: its reply reaches the DMs).

    With `thinking` (a command): private in a server. In a DM nothing is public, and an
    ephemeral deferral would make the first follow-up (the screening itself) ephemeral too,
    so it would vanish when Discord reloads."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ACK_WITHIN
    while True:
        try:
            async with asyncio.timeout(deadline - loop.time()):
                if thinking:
                    await interaction.response.defer(ephemeral=interaction.guild_id is not None,
                                                     thinking=True)
                else:
                    await interaction.response.defer()
            return True
        except discord.HTTPException as error:
            if error.code == ALREADY_ACKNOWLEDGED:
                return True
            if error.status < 500 or loop.time() + ACK_RETRY_PAUSE >= deadline:
                log.warning("discord: an interaction could not be acknowledged: %s",
                            error.status)
                return False
        except SEND_ERRORS as error:  # timed out, or the network failed
            if loop.time() + ACK_RETRY_PAUSE >= deadline:
                log.warning("discord: an interaction could not be acknowledged: %s",
                            type(error).__name__)
                return False
        await asyncio.sleep(ACK_RETRY_PAUSE)
