"""The practice's private staff channel on Discord: notices in, staff replies out.

Staff get each lead and "talk to a person" request as a message here. A staff member answers
the person by *replying* to one of those messages (Discord's Reply); the answer reaches the
person on whatever channel they are on (Telegram, Discord, ...), through the engine. A reply
of `/done` closes the person's chat with staff. When a person asks to be forgotten, the
notices about them here are edited to say so.
"""

from __future__ import annotations

import logging
import re

import discord

from bot.channels.discord.delivery import SEND_ERRORS
from bot.channels.discord.render import (
    CHANNEL,
    MESSAGE_LIMIT,
    NO_MENTIONS,
    markdown,
    markdown_chunks,
    notice,
)
from bot.core.effects import FORGOTTEN_NOTICE, DeliveryFailed, StaffNotice
from bot.turns.runner import TurnRunner

log = logging.getLogger(__name__)


class DiscordStaffChannel:
    """A `StaffNotifier` posting to one Discord channel, remembering whom each notice is about."""

    def __init__(self, client: discord.Client, channel_id: int, engine: TurnRunner) -> None:
        self.client = client
        self.channel_id = channel_id
        self.engine = engine
        self.place = f"{CHANNEL}:{channel_id}"  # how the relays table names this place

    async def notify(self, notice: StaffNotice) -> None:
        """Post one notice (split under Discord's limit), remembering whom each message is
        about; a `forgotten` notice blanks the earlier ones instead. Raises DeliveryFailed
        (its kind and the error's type only): for good when Discord refuses, else to retry."""
        if notice.kind == FORGOTTEN_NOTICE:
            await self._blank(notice)
            return
        channel = self.client.get_partial_messageable(self.channel_id)
        try:
            sent = [await channel.send(content, allowed_mentions=NO_MENTIONS)
                    for content in self.messages(notice)]
        except (discord.Forbidden, discord.NotFound) as error:
            raise DeliveryFailed(f"{type(error).__name__} {error.status}", permanent=True) \
                from None
        except SEND_ERRORS as error:  # the notice holds personal details: never its text
            why = f"{type(error).__name__} {getattr(error, 'status', '')}"
            raise DeliveryFailed(why) from None
        await self.engine.posted(self.place, [str(message.id) for message in sent], notice)

    async def _blank(self, notice: StaffNotice) -> None:
        """Each earlier notice about the person posted here now says only `notice.text`."""
        channel = self.client.get_partial_messageable(self.channel_id)
        text = markdown(notice.text)[:MESSAGE_LIMIT]
        for place, message_id in notice.redact:
            if place != self.place or not message_id.isdigit():
                continue
            try:
                await channel.get_partial_message(int(message_id)).edit(content=text)
            except SEND_ERRORS as error:
                log.warning("discord: a notice in the staff channel could not be blanked: %s %s",
                            type(error).__name__, getattr(error, "status", ""))

    def messages(self, notice: StaffNotice) -> list[str]:
        """The notice as Discord Markdown, with who it is about when they are on Discord."""
        chunks = markdown_chunks(notice.text)
        if notice.channel == CHANNEL and notice.user_id.isdigit() and chunks:
            # A user mention lets staff open the person's profile; NO_MENTIONS keeps it silent.
            person = self.engine.renderer.render("discord/staff_person.j2",
                                                 mention=f"<@{notice.user_id}>")
            chunks[-1] = f"{chunks[-1]}\n{person}"
        return chunks

    async def replied(self, message: discord.Message) -> None:
        """A staff member replied to a notice: the person gets it, wherever they are."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return
        person = await self.engine.about(self.place, str(reference.message_id))
        if person is None:  # a reply to something else: staff talking among themselves
            return
        text = self._without_mention_of_the_bot(message.content)
        if not text:
            # Discord hides what a message says unless it mentions the bot: a reply with its
            # mention turned off arrives empty, so staff are told rather than left guessing.
            await message.channel.send(notice(self.engine, "discord/staff_reply_unread.j2"),
                                       allowed_mentions=NO_MENTIONS)
            return
        await self.engine.from_staff(person, text)

    def _without_mention_of_the_bot(self, content: str) -> str:
        user = self.client.user
        if user is None:
            return content.strip()
        return re.sub(rf"^\s*<@!?{user.id}>", "", content).strip()
