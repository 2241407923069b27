"""A person's DMs with the bot: typed answers and commands in; the replies go out through the
outbox (delivery.py).

The DM is where a screening lives on Discord: it stays after a reload and it is the only
place a person can type an answer privately.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import discord

from bot.channels.discord.delivery import SEND_ERRORS
from bot.channels.discord.render import CHANNEL, notice
from bot.core.effects import Address
from bot.core.events import Event, EventKind
from bot.turns.runner import TurnRunner

APOLOGY_WITHIN = 5.0  # seconds an apology may take; it is best effort

log = logging.getLogger(__name__)


def event_from_dm(message: discord.Message) -> Event:
    """A DM: a /command, a typed answer, or something the bot cannot read; carrying the
    message's id, so a message the gateway replays is applied once."""
    user_id = str(message.author.id)
    text = message.content.strip()
    if not text:
        event = Event(CHANNEL, user_id, EventKind.UNSUPPORTED)
    else:
        event = Event.from_text(CHANNEL, user_id, text)
    return replace(event, update_id=str(message.id))


async def typed(engine: TurnRunner, message: discord.Message) -> None:
    """The person typed in their DM: the engine answers, through the outbox, in the DM."""
    try:
        await engine.handle(event_from_dm(message))
        await engine.flush(Address(CHANNEL, str(message.author.id)))
    except Exception:
        log.exception("discord: a DM could not be answered")
        try:
            async with asyncio.timeout(APOLOGY_WITHIN):
                await message.channel.send(notice(engine, "discord/error.j2"))
        except SEND_ERRORS as error:
            log.warning("discord: could not apologise in a DM: %s", type(error).__name__)
