"""The channels the bot knows, each described once: its name, how it runs, its limits and what
it can do. Plain data: importing this loads no platform library, so the redirect, `check`, the
runner and every renderer read the same facts without loading python-telegram-bot or discord.py.

A new channel is one package under bot/channels/ and one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

PUSH, PULL = "push", "pull"  # the bot sends its messages / the person's client collects them


@dataclass(frozen=True)
class ChannelSpec:
    """One channel: how it runs, the platform's limits, and what it can do."""

    name: str
    # Where its runtime class lives ("package:Class"), built by bot/run.py; "" for a channel
    # another command runs (the console's `chat`).
    runs: str = ""
    token_setting: str = ""  # the setting without which it does not run, if it needs one
    staff_setting: str = ""  # where its staff place is (a chat or channel id), if it has one
    # What `python -m bot <name>` runs, for its help line; and whether it takes `--webhook`.
    summary: str = ""
    webhook: bool = False
    delivery: str = PUSH
    # Its turns' replies are saved with the turn and sent from the outbox (rather than inline).
    replies_by_outbox: bool = False
    # What the platform allows; 0 where it sets no limit.
    message_limit: int = 0  # characters in one message
    label_limit: int = 0  # characters on a button
    payload_limit: int = 0  # what a button carries back when pressed ...
    payload_in_bytes: bool = False  # ... counted in UTF-8 bytes (else characters)
    payload_name: str = ""  # what the platform calls it
    link_limit: int = 0  # characters of a link button's address
    menu_description_limit: int = 0  # characters of a command's description in its menu
    # Profile texts the platform shows before a person writes: template -> its limit.
    profile_limits: Mapping[str, int] = field(default_factory=dict)
    # What it can do: answer by buttons, edit a message already sent, reach a person later
    # (a check-in, a staff reply) without their asking.
    buttons: bool = True
    edits: bool = True
    later_messages: bool = True

    @property
    def pulled(self) -> bool:
        """Its people collect waiting messages when they next come: no outbox sends to it."""
        return self.delivery == PULL


TELEGRAM = ChannelSpec(
    "telegram",
    runs="bot.channels.telegram:TelegramChannel",
    token_setting="telegram_token",
    staff_setting="staff_telegram_chat_id",
    summary="Telegram (BOT_TELEGRAM_TOKEN)",
    webhook=True,
    replies_by_outbox=True,
    message_limit=4096,  # Bot API sendMessage: text, 1-4096 characters
    label_limit=80,  # the bot's own cap (Telegram sets none that a label reaches)
    payload_limit=64,  # InlineKeyboardButton.callback_data: 1-64 bytes
    payload_in_bytes=True,
    payload_name="callback data",
    menu_description_limit=256,  # BotCommand.description: 1-256 characters
    profile_limits={
        "telegram/description.j2": 512,  # setMyDescription: 0-512 characters
        "telegram/short_description.j2": 120,  # setMyShortDescription: 0-120 characters
    },
)
DISCORD = ChannelSpec(
    "discord",
    runs="bot.channels.discord:DiscordChannel",
    token_setting="discord_token",
    staff_setting="staff_discord_channel_id",
    summary="Discord (BOT_DISCORD_TOKEN)",
    replies_by_outbox=True,
    message_limit=2000,  # Create Message: content, up to 2000 characters
    label_limit=80,  # Button Object: label, max 80 characters
    payload_limit=100,  # Button Object: custom_id, 1-100 characters
    payload_name="custom id",
    link_limit=512,  # Button Object: url, max 512 characters
    menu_description_limit=100,  # Application Command: description, 1-100 characters
)
# On unless BOT_WEB_CHAT__ENABLED=false; its browsers collect what waits for them, so no
# check-in is offered there (nothing could reach them).
WEB = ChannelSpec(
    "web",
    runs="bot.channels.web:WebChannel",
    summary="the web server (the web chat, health, link redirects)",
    delivery=PULL,
    label_limit=80,
    later_messages=False,
)
# `python -m bot chat` and `say`: buttons are a numbered list to type from.
CONSOLE = ChannelSpec("console", delivery=PULL, label_limit=80, buttons=False, edits=False,
                      later_messages=False)

CHANNELS: Mapping[str, ChannelSpec] = MappingProxyType(
    {spec.name: spec for spec in (TELEGRAM, DISCORD, WEB, CONSOLE)})
# Those `python -m bot run` starts (each when configured), in start order.
RUN_CHANNELS: Mapping[str, ChannelSpec] = MappingProxyType(
    {name: spec for name, spec in CHANNELS.items() if spec.runs})


def channel_names() -> tuple[str, ...]:
    """The name of every channel the bot knows."""
    return tuple(CHANNELS)


def with_buttons() -> tuple[ChannelSpec, ...]:
    """The channels that show choices as buttons."""
    return tuple(spec for spec in CHANNELS.values() if spec.buttons)
