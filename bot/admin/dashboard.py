"""What every dashboard page shares: the engine, settings, sign-in rules, clock and templates."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.admin.accounts import PASSWORDS, Limits, Passwords, SignIn
from bot.settings import Settings
from bot.turns.runner import TurnRunner

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PREFIX = "/admin"


@dataclass
class Dashboard:
    """The dashboard's parts; `clock` is replaceable (tests move time past a lock-out), and
    `passwords` sets the cost of hashing (tests hash at the cheapest)."""

    engine: TurnRunner
    settings: Settings
    clock: Callable[[], float] = time.time
    passwords: Passwords = PASSWORDS
    sign_in: SignIn = field(init=False)
    pages: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.sign_in = SignIn(self.engine.store, Limits.of(self.settings), self.passwords,
                              salt=self.settings.link_key)
        self.pages = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.pages.globals["prefix"] = PREFIX
        self.pages.globals["practice"] = self.settings.practice
        self.pages.filters["when"] = when

    def page(self, name: str, status: int = 200, **context: Any) -> web.Response:
        """A page rendered from bot/admin/templates/ (every value HTML-escaped)."""
        text = self.pages.get_template(name).render(**context)
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def when(timestamp: float) -> str:
    """A stored time as staff read it: `2026-11-25 14:05 UTC`."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


DASHBOARD = web.AppKey("dashboard", Dashboard)
