"""Builds the engine from settings: flows, templates and the configured store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bot.engine.commands import load_commands
from bot.engine.engine import Engine
from bot.engine.flow import load_flows
from bot.engine.render import Renderer
from bot.settings import Settings
from bot.store import open_store
from bot.store.base import ConversationStore


def build_engine(
    settings: Settings,
    store: ConversationStore | None = None,
    clock: Callable[[], float] = time.time,
) -> Engine:
    """An engine on the settings' flows and templates, on the store given or the one the
    settings choose (SQLite unless BOT_DATABASE_URL is set), telling time by `clock`."""
    flows = load_flows(Path(settings.dialogs_dir))
    commands = load_commands(Path(settings.dialogs_dir), flows, settings.default_flow)
    renderer = Renderer(Path(settings.templates_dir))
    store = store or open_store(settings)
    return Engine(flows, renderer, store, settings, clock=clock, commands=commands)


PURGE_EVERY = 24 * 3600.0
log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def purging_daily(engine: Engine, every: float = PURGE_EVERY) -> AsyncIterator[None]:
    """While the block runs, delete data older than the retention window now and every day."""

    async def purge_forever() -> None:
        while True:
            deleted = await engine.purge_expired()
            if any(deleted.values()):
                log.info("retention: %s", deleted)
            await asyncio.sleep(every)

    task = asyncio.create_task(purge_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
