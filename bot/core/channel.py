"""The lifecycle every channel shares, so one runner can start and stop them all."""

from __future__ import annotations

from typing import Any, Protocol

from bot.core.effects import Outbox, StaffNotifier


class ChannelError(RuntimeError):
    """A channel could not start (a refused token, an unreachable platform): the message says
    why in one line and never holds a secret."""


class Channel(Outbox, Protocol):
    """A platform the bot talks on (Telegram, Discord, the web chat).

    `start` connects and returns once updates are being taken; `stop` stops taking new
    updates, lets those in flight finish and be answered, then closes its connections.
    Implementations are built as `Kind(engine, settings, webhook=False)` and say whether the
    settings configure them with a static `configured(settings) -> bool`.
    """

    name: str

    async def start(self) -> None:
        """Connect and begin taking updates."""

    async def stop(self) -> None:
        """Stop taking updates, finish the ones in flight, close connections."""

    def mount(self, app: Any) -> None:
        """Add this channel's routes (e.g. a webhook) to the one web server, if it has any."""

    def staff_place(self) -> StaffNotifier | None:
        """Where this channel posts staff notices (a staff chat or channel), once started;
        None when the practice configured none here."""
