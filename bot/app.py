"""Builds the turn runner from settings: the dialog (flows, commands, templates), the
configured store and the wiring of channels."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bot.engine.commands import load_commands
from bot.engine.dialog import Dialog, Reach
from bot.engine.flow import load_flows
from bot.engine.render import Renderer
from bot.settings import Settings
from bot.store import open_store
from bot.store.base import ConversationStore
from bot.turns.runner import TurnRunner
from bot.turns.wiring import NO_WIRING, Wiring


def build_engine(
    settings: Settings,
    store: ConversationStore | None = None,
    clock: Callable[[], float] = time.time,
    wiring: Wiring = NO_WIRING,
) -> TurnRunner:
    """The turn runner and its dialog on the settings' flows and templates, on the store
    given or the one the settings choose (SQLite unless BOT_DATABASE_URL is set), telling
    time by `clock`, for the channels and staff places `wiring` names."""
    flows = load_flows(Path(settings.dialogs_dir))
    commands = load_commands(Path(settings.dialogs_dir), flows, settings.default_flow)
    renderer = Renderer(Path(settings.templates_dir))
    reach = Reach(later=wiring.reachable_later, staff=bool(wiring.staff_places),
                  alerts=bool(wiring.alert_places))
    dialog = Dialog(flows, renderer, settings, commands, reach)
    return TurnRunner(dialog, store or open_store(settings), settings, wiring, clock)


PURGE_EVERY = 24 * 3600.0
log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def purging_daily(engine: TurnRunner, every: float = PURGE_EVERY) -> AsyncIterator[None]:
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
