"""The practice's dashboard at /admin: staff sign in to see leads, the funnel, the flows'
diagrams and every message of every flow (docs/dashboard.md).

Served by the bot's own server as a sub-application, so its session check, CSRF check and
strict security headers apply to its routes and to nothing else on the server.
"""

from __future__ import annotations

from aiohttp import web

from bot.admin.accounts import PASSWORDS, Passwords
from bot.admin.auth import security_headers, staff_only
from bot.admin.dashboard import DASHBOARD, PREFIX, STATIC, Dashboard
from bot.admin.inbox import add_inbox_routes
from bot.admin.pages import add_routes
from bot.settings import Settings
from bot.turns.runner import TurnRunner

__all__ = ["DASHBOARD", "add_admin"]


async def _to_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(f"{PREFIX}/")


def add_admin(app: web.Application, engine: TurnRunner, settings: Settings,
              passwords: Passwords = PASSWORDS) -> Dashboard:
    """Mount the dashboard under /admin on the bot's server; its shared parts are returned
    (and kept as `admin[DASHBOARD]`). `passwords`: how staff passwords are hashed."""
    admin = web.Application(middlewares=[staff_only])
    dashboard = Dashboard(engine, settings, passwords=passwords)
    admin[DASHBOARD] = dashboard
    admin.on_response_prepare.append(security_headers)
    add_routes(admin)
    add_inbox_routes(admin)
    admin.router.add_static("/static", STATIC, name="static", append_version=False)
    app.router.add_get(PREFIX, _to_home)
    app.add_subapp(PREFIX, admin)
    return dashboard
