"""`DiscordChannel`: the Discord bot's lifecycle (start, stop), its staff channel and its
outbox (`deliver`, see delivery.py), as the one runner (bot/run.py) drives every channel.

Every interaction and DM becomes a task of the channel's own the moment discord.py reads it
from the gateway, so `stop` can stop reading, let each one finish and be answered, and only
then close the connection. Once a task is done (the turn committed and its reply flushed, or
failed), the channel says so to whoever listens (`after`: the test fakes wait on it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.channels.discord.delivery import Delivery, Routes
from bot.channels.discord.dms import typed
from bot.channels.discord.interactions import Interactions
from bot.channels.discord.menu import Menu, build_menu, sync
from bot.channels.discord.render import CHANNEL, NO_MENTIONS
from bot.channels.discord.staff import DiscordStaffChannel
from bot.core.channel import ChannelError
from bot.core.effects import Address, DeliveryFailed, StaffNotifier
from bot.core.events import Reply
from bot.settings import Settings
from bot.turns.runner import TurnRunner

DISCORD_API = Route.BASE
DISCORD_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY
STOP_GRACE = 20.0  # seconds updates in flight get to finish when the channel stops
# A rate limit longer than this is not waited out by discord.py (30 s is its least): it raises
# RateLimited, and the outbox sends the message again after the wait Discord asked for.
LONGEST_LIBRARY_WAIT = 30.0
CONNECT_ERRORS = (discord.HTTPException, discord.GatewayNotFound, discord.ConnectionClosed,
                  aiohttp.ClientError, OSError, TimeoutError)

log = logging.getLogger(__name__)


class CouldNotStart(ChannelError):
    """Discord refused or could not be reached at start; the message says why, in one line,
    without the token."""


def bot_token(settings: Settings) -> str:
    """The configured bot token, or "" when none is set."""
    return settings.discord_token.get_secret_value().strip() if settings.discord_token else ""


def use_api(api_url: str) -> None:
    """Point discord.py's REST calls at `api_url` (empty: discord.com)."""
    Route.BASE = f"{api_url.rstrip('/')}/api/v10" if api_url else DISCORD_API


def required_intents(staff_channel: bool) -> discord.Intents:
    """Guilds (slash commands, channels) and DM messages (typed answers); with a staff
    channel, server messages too (staff replies). Nothing privileged: Discord sends a bot the
    content of DMs, and of messages that mention it, which a reply does by default."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.dm_messages = True
    intents.guild_messages = staff_channel
    return intents


def keep_payloads_out_of_logs() -> None:
    # discord.py's DEBUG lines carry gateway and request payloads, i.e. people's answers
    library = logging.getLogger("discord")
    if library.getEffectiveLevel() < logging.INFO:
        library.setLevel(logging.INFO)


class InFlight:
    """The tasks answering updates, so a stop can wait for each of them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def finish(self, timeout: float) -> int:
        """Wait until every task is done (at most `timeout` s); how many were cut off."""
        if not self._tasks:
            return 0
        _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in late:
            task.cancel()
        return len(late)


def _log_lost_gateway(gateway: asyncio.Task[None]) -> None:
    # discord.py reconnects by itself; it gives up only on what a restart must fix
    if not gateway.cancelled() and gateway.exception() is not None:
        log.error("discord: the gateway connection ended for good: %s",
                  type(gateway.exception()).__name__)


class DiscordClient(discord.Client):
    """discord.py's client: syncs the commands at login and hands every interaction and
    message to the channel as it arrives."""

    def __init__(self, channel: DiscordChannel) -> None:
        staff = channel.settings.staff_discord_channel_id is not None
        super().__init__(intents=required_intents(staff), allowed_mentions=NO_MENTIONS,
                         max_messages=None,  # no cache of people's messages
                         max_ratelimit_timeout=LONGEST_LIBRARY_WAIT)
        self.channel = channel
        self.connected = asyncio.Event()

    async def setup_hook(self) -> None:
        """Logged in: the gateway address, then the slash commands."""
        DiscordWebSocket.DEFAULT_GATEWAY = await self._gateway()
        guild_id = self.channel.settings.discord_guild_id
        synced = await sync(self, self.channel.menu, guild_id)
        log.info("discord: %d commands synced (%s)", synced,
                 f"guild {guild_id}, and globally for DMs" if guild_id else "global")

    async def _gateway(self) -> yarl.URL:
        if not self.channel.settings.discord_api_url:
            return DISCORD_GATEWAY
        _, url, _ = await self.http.get_bot_gateway()
        return yarl.URL(url)

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        """discord.py's events, plus: the channel takes interactions and messages here."""
        super().dispatch(event, *args, **kwargs)
        if event == "connect":
            self.connected.set()
        elif event in ("interaction", "message"):
            self.channel.arrived(*args)


class DiscordChannel:
    """The bot on Discord: slash commands, buttons and DMs; a staff channel; an outbox."""

    name = CHANNEL

    @staticmethod
    def configured(settings: Settings) -> bool:
        """True when a bot token is set."""
        return bool(bot_token(settings))

    def __init__(self, engine: TurnRunner, settings: Settings, *, webhook: bool = False) -> None:
        # `webhook` is Telegram's choice; Discord always connects to the gateway.
        self.engine = engine
        self.settings = settings
        self.menu: Menu = build_menu(engine)
        self.routes = Routes()
        self.interactions = Interactions(engine, self.menu, self.routes)
        self.in_flight = InFlight()
        # Called with each interaction's or message's id once it is handled (tests wait on it).
        self.after: list[Callable[[int], None]] = []
        self.client: DiscordClient | None = None
        self.staff: DiscordStaffChannel | None = None
        self.taking = False  # updates are handed on only while True
        self._gateway: asyncio.Task[None] | None = None

    def mount(self, app: Any) -> None:
        """Nothing: Discord reaches the bot over the gateway, not the web server."""

    def staff_place(self) -> StaffNotifier | None:
        """The staff channel, once started, when BOT_STAFF_DISCORD_CHANNEL_ID is set."""
        return self.staff

    async def start(self) -> None:
        """Log in, sync the commands, connect the gateway; return once updates arrive.

        Raises CouldNotStart, in one line and without the token, when Discord refuses.
        """
        keep_payloads_out_of_logs()
        use_api(self.settings.discord_api_url)
        self.client = client = DiscordClient(self)
        channel_id = self.settings.staff_discord_channel_id
        if channel_id is not None:
            self.staff = DiscordStaffChannel(client, channel_id, self.engine)
        try:
            await client.login(bot_token(self.settings))
            self.taking = True
            await self._connect(client)
        except discord.LoginFailure:
            await self._close()
            raise CouldNotStart("Discord rejected BOT_DISCORD_TOKEN: reset the token in the "
                                "developer portal (Bot page) and set it again.") from None
        except CONNECT_ERRORS as error:
            await self._close()
            raise CouldNotStart(f"could not connect to Discord: {type(error).__name__} "
                                f"{getattr(error, 'status', '')}".strip()) from None
        log.info("discord: connected as %s", client.user)

    async def _connect(self, client: DiscordClient) -> None:
        self._gateway = asyncio.create_task(client.connect())
        self._gateway.add_done_callback(_log_lost_gateway)
        connected = asyncio.create_task(client.connected.wait())
        await asyncio.wait({self._gateway, connected}, return_when=asyncio.FIRST_COMPLETED)
        if not connected.done():
            connected.cancel()
            self._gateway.result()  # the gateway ended before it was ready: raises why
            raise discord.GatewayNotFound()

    def arrived(self, update: discord.Interaction | discord.Message) -> None:
        """An interaction or a message, read from the gateway: answered in a task of its own."""
        if not self.taking:
            return
        if isinstance(update, discord.Interaction):
            self.in_flight.start(self._handled(update.id, self.interactions.received(update)))
        else:
            self.in_flight.start(self._handled(update.id, self._message(update)))

    async def _handled(self, update_id: int, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        finally:
            for observer in self.after:
                observer(update_id)

    async def _message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        if isinstance(message.channel, discord.DMChannel):  # not `guild is None`: a server
            await typed(self.engine, message)                # may not be cached (no members)
        elif self.staff is not None and message.channel.id == self.staff.channel_id:
            await self.staff.replied(message)
        # any other server message is not read at all

    async def stop(self) -> None:
        """Stop reading the gateway, let the updates in flight be answered, then close."""
        self.taking = False
        await self._close()

    async def _close(self) -> None:
        if self._gateway is not None:
            self._gateway.cancel()
            await asyncio.gather(self._gateway, return_exceptions=True)
        client = self.client
        if client is not None and client.ws is not None and client.ws.open:
            await client.ws.close(code=1000)  # Discord stops sending this session anything
        left = await self.in_flight.finish(STOP_GRACE)
        if left:
            log.warning("discord: %d updates were still running when stopping; cut off", left)
        if client is not None:
            await client.close()

    async def deliver(self, address: Address, reply: Reply) -> None:
        """Send one outbox message to the person: in their DMs, or through the interaction
        its turn answered (delivery.py). Raises DeliveryFailed: for good when Discord refuses
        (DMs closed, user gone), after `retry_after` on a 429, to retry later otherwise; the
        text is never logged."""
        client = self.client
        if client is None or client.is_closed():
            raise DeliveryFailed("the Discord channel is not running")
        await Delivery(client, self.routes).deliver(address, reply)
