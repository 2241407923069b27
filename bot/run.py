"""`python -m bot run`: one process runs every configured channel, the web server, the
follow-up timer and the daily retention purge, and shuts them all down cleanly on SIGTERM or SIGINT.

A platform channel runs when its settings are present (a token); the web chat runs unless it
is turned off; the web server always runs. Staff
places and outboxes are wired once, here: each running channel is the outbox for its people
and for its staff place; every staff notice is saved with its turn for every staff place
configured, and sent by whichever process runs that place.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from bot.app import build_engine, purging_daily
from bot.core.channel import Channel, ChannelError
from bot.core.channels import RUN_CHANNELS, ChannelSpec
from bot.core.effects import EMAIL_PLACE, STAFF_PREFIX, WEBHOOK_PLACE, StaffNotifier
from bot.engine.render import BrokenTemplate
from bot.handoff.alerts import alert_places
from bot.handoff.hooks import WebhookAlerts
from bot.handoff.mail import EmailAlerts
from bot.server import MAX_PER_ADDRESS, READY, create_app, serve
from bot.settings import Settings
from bot.store import without_password
from bot.turns.wiring import Wiring


def load(spec: ChannelSpec) -> Any:
    """The channel class (`Kind(engine, settings, webhook=...)`, see bot/core/channel.py). A
    channel's package, and its platform's library, is imported only when it runs: a
    Telegram-only process never loads discord.py."""
    module, _, name = spec.runs.partition(":")
    return getattr(importlib.import_module(module), name)


def has_staff_place(spec: ChannelSpec, settings: Settings) -> bool:
    """True when the practice set a staff place on this platform (and its token)."""
    if not spec.token_setting or not spec.staff_setting:
        return False
    has_token = getattr(settings, spec.token_setting) is not None
    return has_token and getattr(settings, spec.staff_setting) is not None


def configured(spec: ChannelSpec, settings: Settings) -> bool:
    """True when its token is set (if it needs one), as the channel's own `configured` reads
    it; a channel without a token (the web chat) runs when that says so."""
    if spec.token_setting and getattr(settings, spec.token_setting) is None:
        return False  # not set: not even imported
    return bool(load(spec).configured(settings))


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

log = logging.getLogger(__name__)


class Runner:
    """Starts the web server and the configured channels on one engine, and stops them."""

    def __init__(
        self,
        settings: Settings,
        only: Sequence[str] | None = None,
        webhook: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.engine = build_engine(settings, clock=clock, wiring=wiring_of(settings))
        self.channels: list[Channel] = [
            load(spec)(self.engine, settings, webhook=webhook)
            for name, spec in RUN_CHANNELS.items()
            if (only is None or name in only) and configured(spec, settings)
        ]
        self.app = create_app(self.engine)
        self.alerts = alert_notifiers(settings, clock)
        self._server: web.AppRunner | None = None
        self._purge: contextlib.AsyncExitStack | None = None
        self._sender: asyncio.Task[None] | None = None
        self._followups: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The store (connected, schema migrated), the web server (webhooks need it), every
        channel, then the outbox sender and the daily purge."""
        try:
            await self.engine.store.open()
        except Exception as error:
            raise ChannelError(f"the database could not be opened: {type(error).__name__}: "
                               f"{without_password(str(error))}") from None
        try:
            self.engine.dialog.renderer.compile_all()
        except BrokenTemplate as error:
            raise ChannelError(str(error)) from None
        for channel in self.channels:
            channel.mount(self.app)
        self._server = await self._serve()
        for channel in self.channels:
            await channel.start()
            if not RUN_CHANNELS[channel.name].pulled:  # the web chat's browsers collect theirs
                self.engine.outboxes[channel.name] = channel
            place = channel.staff_place()
            if place is not None:  # notices for it, from any process, are sent from here
                self.engine.outboxes[STAFF_PREFIX + channel.name] = place
        for name, notifier in self.alerts.items():  # email, webhook: sent from every process
            self.engine.outboxes[STAFF_PREFIX + name] = notifier
        self._purge = contextlib.AsyncExitStack()
        await self._purge.enter_async_context(purging_daily(self.engine))
        self._sender = asyncio.create_task(self.engine.deliveries.run(), name="outbox")
        self._followups = asyncio.create_task(self.engine.followups.run(), name="followups")
        self.app[READY]["ready"] = True
        names = ", ".join(c.name for c in self.channels) or "no channel (web server only)"
        log.info("running: %s; web server on %s", names, self.listening)
        database = ("PostgreSQL (BOT_DATABASE_URL)" if self.settings.database_url
                    else f"SQLite in {self.settings.database_path}")
        log.info("database: %s; metrics: %s", database,
                 "/metrics (with BOT_METRICS_TOKEN)" if self.settings.metrics_token
                 else "off (set BOT_METRICS_TOKEN to serve /metrics)")

    @property
    def listening(self) -> str:
        """The web server's address as it listens (the port the system chose for port 0)."""
        host, port = self.settings.web_host, self.settings.web_port
        if self._server is not None and self._server.addresses:
            port = self._server.addresses[0][1]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    async def _serve(self) -> web.AppRunner:
        """Listen on BOT_WEB_HOST:BOT_WEB_PORT; ChannelError, in one line, when it cannot."""
        host, port = self.settings.web_host, self.settings.web_port
        behind_proxy = self.settings.web_chat.trust_forwarded_for  # every connection the proxy's
        try:
            return await serve(self.app, host, port,
                               max_per_address=None if behind_proxy else MAX_PER_ADDRESS)
        except OSError as error:
            raise ChannelError(cannot_listen(host, port, error)) from None

    async def stop(self) -> None:
        """Stop taking updates, let in-flight ones be answered, then close everything; what
        is still in the outbox is sent by the next process."""
        self.app[READY]["ready"] = False
        if self._purge is not None:
            await self._purge.aclose()
        for channel in reversed(self.channels):
            try:
                await channel.stop()
            except Exception as error:  # one channel failing to stop must not strand the rest
                log.error("%s did not stop cleanly: %s", channel.name, type(error).__name__)
        for task in (self._followups, self._sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._server is not None:
            await self._server.cleanup()
        for notifier in self.alerts.values():
            if isinstance(notifier, WebhookAlerts):
                await notifier.close()
        await self.engine.store.close()


def wiring_of(settings: Settings) -> Wiring:
    """The channels and staff places of this deployment, from the registry and settings:
    some process delivers to each channel; a staff place configured anywhere is posted to by
    the process that runs it."""
    return Wiring(
        queued=frozenset(name for name, spec in RUN_CHANNELS.items() if spec.replies_by_outbox),
        delivered=frozenset(RUN_CHANNELS),
        pulled=frozenset(name for name, spec in RUN_CHANNELS.items() if spec.pulled),
        staff_places=frozenset(name for name, spec in RUN_CHANNELS.items()
                               if has_staff_place(spec, settings)),
        alert_places=alert_places(settings),
    )


def alert_notifiers(settings: Settings, clock: Callable[[], float] = time.time,
                    ) -> dict[str, StaffNotifier]:
    """The alert places configured (email, webhook), each a staff place of the outbox; a
    webhook is signed with the time by `clock`."""
    places = alert_places(settings)
    notifiers: dict[str, StaffNotifier] = {}
    if EMAIL_PLACE in places:
        notifiers[EMAIL_PLACE] = EmailAlerts(settings)
    if WEBHOOK_PLACE in places:
        notifiers[WEBHOOK_PLACE] = WebhookAlerts(settings, clock)
    return notifiers


def cannot_listen(host: str, port: int, error: OSError) -> str:
    """Why the web server cannot listen, in one line that says what to change."""
    if error.errno == errno.EADDRINUSE:
        return (f"Port {port} on {host} is already in use: set BOT_WEB_PORT to a free port, "
                "or stop what listens there")
    if error.errno == errno.EACCES:
        return (f"Port {port} on {host} needs privileges this user lacks: set BOT_WEB_PORT to "
                "1024 or above (and let a reverse proxy take port 80 or 443)")
    reason = os.strerror(error.errno) if error.errno else type(error).__name__
    return f"The web server cannot listen on {host}:{port}: {reason}: check BOT_WEB_HOST"


async def serve_until_stopped(runner: Runner) -> int:
    """Run until SIGTERM or SIGINT, then stop gracefully; 0 on a clean stop."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    try:
        try:
            await runner.start()
        except ChannelError as error:  # a channel that cannot start says why, in one line
            log.debug("start failed", exc_info=True)
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"Web server listening on {runner.listening}", flush=True)
        keep_startup_objects()
        await stopping.wait()
        log.info("stopping: finishing updates in flight")
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        await runner.stop()
    return 0


def keep_startup_objects() -> None:
    """Once started: what start-up left (libraries, flows, templates, settings) is kept for the
    life of the process, so the garbage collector stops scanning it again on every full pass
    (about a tenth of the Telegram benchmark's CPU per update). Garbage is collected first."""
    gc.collect()
    gc.freeze()


def run(settings: Settings, only: Sequence[str] | None = None, webhook: bool = False) -> int:
    """The process entry point for `run`, `telegram`, `discord` and `web`."""
    for name, spec in RUN_CHANNELS.items():
        if not spec.token_setting:  # turned off: the server runs without it (and says so)
            continue
        if only is not None and name in only and not configured(spec, settings):
            print(f"error: BOT_{spec.token_setting.upper()} is not set, so {name} cannot run;"
                  f" see docs/{name}.md", file=sys.stderr)
            return 2
    return asyncio.run(serve_until_stopped(Runner(settings, only=only, webhook=webhook)))
