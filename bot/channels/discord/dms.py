"""A person's DMs with the bot: typed answers and commands in, replies out.

The DM is where a screening lives on Discord: it stays after a reload and it is the only
place a person can type an answer privately. The channel's outbox writes here too.
"""

from __future__ import annotations

import logging

import aiohttp
import discord

from bot.channels.discord.render import CHANNEL, notice, reply_parts, with_view
from bot.core.events import Event, EventKind, Reply
from bot.turns.runner import TurnRunner

# What sending a message can raise: Discord refused it, or the network failed.
SEND_ERRORS = (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError)

log = logging.getLogger(__name__)


def event_from_dm(message: discord.Message) -> Event:
    """A DM: a /command, a typed answer, or something the bot cannot read."""
    user_id = str(message.author.id)
    text = message.content.strip()
    if not text:
        return Event(CHANNEL, user_id, EventKind.UNSUPPORTED)
    return Event.from_text(CHANNEL, user_id, text)


async def typed(engine: TurnRunner, message: discord.Message) -> None:
    """The person typed in their DM: the engine answers there."""
    try:
        reply = await engine.handle(event_from_dm(message))
        await send_reply(message.channel, reply)
    except Exception:
        log.exception("discord: a DM could not be answered")
        try:
            await message.channel.send(notice(engine, "discord/error.j2"))
        except SEND_ERRORS as error:
            log.warning("discord: could not apologise in a DM: %s", type(error).__name__)


async def send_reply(channel: discord.abc.Messageable, reply: Reply) -> discord.Message | None:
    """Every message of the reply, in order; the first one sent, if any."""
    first: discord.Message | None = None
    for content, view in reply_parts(reply):
        sent = await channel.send(content, **with_view(view))
        first = first or sent
    return first


async def send_to_dm(user: discord.User | discord.Member, reply: Reply) -> discord.Message | None:
    """The reply in the person's DMs; None when their privacy settings refuse DMs."""
    try:
        return await send_reply(await user.create_dm(), reply)
    except discord.Forbidden:
        return None
