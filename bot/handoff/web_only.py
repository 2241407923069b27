"""`python -m bot web`: the bot's web server on its own (health check and link redirects).

Used when no Telegram webhook server runs in the same process, e.g. a Discord-only practice.
"""

from __future__ import annotations

import asyncio
import contextlib

from bot.app import purging_daily
from bot.engine.engine import Engine
from bot.handoff.redirect import add_redirects
from bot.web import create_web_app, serve


def run_web(engine: Engine) -> int:
    """Serve until interrupted; purge expired data once a day."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(engine))
    return 0


async def _serve_forever(engine: Engine) -> None:
    app = create_web_app()
    add_redirects(app, engine)
    runner = await serve(app, engine.settings.web_host, engine.settings.web_port)
    print(f"web server on http://{engine.settings.web_host}:{engine.settings.web_port}")
    try:
        async with purging_daily(engine):
            await asyncio.Event().wait()  # until interrupted
    finally:
        await runner.cleanup()
        await engine.store.close()
