"""What a person sees of the bot on Telegram before they write to it, set when the bot starts:
the description (an empty chat, above Start), the short description (the bot's profile, a
shared link) and the command menus, every command in private chats and in groups only those
that work there. Texts come from templates/telegram/, commands from the command registry.

Each is read first and set only when it changed: Telegram limits how often a bot may set them,
and a bot restarted often would otherwise wait out those limits before taking any update.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats
from telegram.error import TelegramError

from bot.channels.telegram.api import describe
from bot.channels.telegram.handlers import CHANNEL
from bot.core.channels import TELEGRAM
from bot.core.markup import plain
from bot.turns.runner import TurnRunner

DESCRIPTION = "telegram/description.j2"
SHORT_DESCRIPTION = "telegram/short_description.j2"
# Each profile text, and the most characters Telegram takes for it (512 and 120).
LIMITS = TELEGRAM.profile_limits

log = logging.getLogger(__name__)


async def set_profile(bot: Bot, engine: TurnRunner) -> None:
    """Descriptions, then command menus; a failure is logged and the bot starts all the same."""
    for what, step in (("descriptions", set_descriptions), ("command menus", set_command_menus)):
        try:
            await step(bot, engine)
        except TelegramError as error:
            log.warning("telegram: the %s were not set: %s", what, describe(error))


async def set_descriptions(bot: Bot, engine: TurnRunner) -> None:
    """The description and the short description, from their templates."""
    description, short = (profile_text(engine, name) for name in (DESCRIPTION, SHORT_DESCRIPTION))
    if (await bot.get_my_description()).description != description:
        await bot.set_my_description(description)
    if (await bot.get_my_short_description()).short_description != short:
        await bot.set_my_short_description(short)


async def set_command_menus(bot: Bot, engine: TurnRunner) -> None:
    """The full menu in private chats, the registry's `groups` commands in group chats, and
    nothing in the default scope (an older version's menu there would show in every chat)."""
    scopes = (
        (BotCommandScopeAllPrivateChats(), command_menu(engine)),
        (BotCommandScopeAllGroupChats(), command_menu(engine, groups=True)),
        (None, []),
    )
    for scope, commands in scopes:
        if list(await bot.get_my_commands(scope=scope)) == commands:
            continue
        if commands:
            await bot.set_my_commands(commands, scope=scope)
        else:
            await bot.delete_my_commands(scope=scope)


def profile_text(engine: TurnRunner, template: str) -> str:
    """A profile template as plain text, cut at a word to Telegram's limit if it is longer
    (`check` reports that)."""
    text = plain(engine.notice(template, channel=CHANNEL))
    limit = LIMITS[template]
    if len(text) <= limit:
        return text
    log.warning("telegram: %s is %d characters, over %d: cut", template, len(text), limit)
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def command_menu(engine: TurnRunner, groups: bool = False) -> list[BotCommand]:
    """The registry's Telegram commands (in group chats, those marked `groups`), described by
    the flow or common/commands.j2."""
    described = engine.compose.render_names("common/commands.j2")
    return [
        BotCommand(command.name, command.description or getattr(described, command.name))
        for command in engine.commands.for_menu(CHANNEL, groups=groups)
    ]
