"""The bot's one web server: every HTTP route mounts on this aiohttp app.

Health, the click-counting `/go/<link>` redirect, and whatever the channels add with their
`mount(app)` (the Telegram webhook; later the web chat and booking webhooks).
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.engine.engine import Engine
from bot.handoff.redirect import add_redirects

log = logging.getLogger(__name__)


def create_app(engine: Engine) -> web.Application:
    """The application with `GET /healthz` and `GET /go/<link>`; channels add their routes."""
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    add_redirects(app, engine)
    return app


async def healthz(request: web.Request) -> web.Response:
    """Liveness for load balancers and orchestrators."""
    return web.json_response({"status": "ok"})


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start listening; the caller ends it with `await runner.cleanup()`."""
    runner = web.AppRunner(app, access_log=None)  # URLs may one day carry personal details
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
