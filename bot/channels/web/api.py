"""The web chat's routes: the page, its assets, and the JSON API the page talks to.

    GET  /chat               the full-page chat (also what the embed's frame shows)
    GET  /chat/embed.js      the one script a practice adds to its pages
    GET  /chat/assets/<f>    the page's own script and style
    POST /chat/api/resume    {session}: the current question (a reload, the next visit)
    POST /chat/api/turn      {session, message_id, text} or {..., choice, turn}: one turn
    POST /chat/api/poll      {session}: messages waiting for the person (staff replies)

A turn is answered inline, in the HTTP response. Messages the engine put in the store's
outbox for a web person (a staff member's reply while they talk to a person) are collected
from the store by the next request of that person's browser (`poll`, or any turn).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from importlib import resources
from typing import Any

from aiohttp import web

from bot.channels.web.guard import (
    MAX_TEXT,
    MAX_TURN,
    Refused,
    checked_origin,
    clean_text,
    cors,
    json_body,
    message_id,
    page_policy,
    secure,
    session_id,
)
from bot.channels.web.limits import TokenBuckets
from bot.channels.web.render import reply_json
from bot.core.address import client_address
from bot.core.channels import WEB
from bot.core.effects import Address
from bot.core.events import Event, EventKind, Message, Reply
from bot.core.markup import plain
from bot.core.message_json import Json, message_json
from bot.settings import Settings
from bot.settings.emergency import emergency_number
from bot.turns.runner import TurnRunner

CHANNEL = WEB.name
ASSETS = {  # file in static/ -> content type
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
    "embed.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
MAX_CHOICE_ID = 64
POLL_BATCH = 20  # waiting messages handed over per request
# Why a request is refused: each names its words in templates/web/errors.j2.
EMPTY, TOO_LONG, BAD_PRESS = "empty", "too_long", "bad_press"
SLOW_DOWN, BUSY, FAILED = "slow_down", "busy", "failed"
ERRORS_TEMPLATE = "web/errors.j2"
PAGE_TEMPLATE = "web/page.j2"  # the page's own words: its title, buttons, answer box
PAGE_ERRORS = ("empty", "failed")  # of errors.j2's, what the page's script says itself
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
ASSET_CACHE = "public, max-age=300"
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".webp": "image/webp",
              ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
DEFAULT_LOGO = "/chat/assets/icon.svg"
# embed.js's defaults, replaced by the practice's settings when it is served.
EMBED_SETTINGS = re.compile(r"/\*settings\*/.*?/\*end\*/")

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def static_text(name: str) -> str:
    return resources.files("bot.channels.web").joinpath("static", name).read_text("utf-8")


class WebChatApi:
    """The routes, the rate limits, and the count of requests in flight (for a clean stop)."""

    def __init__(self, engine: TurnRunner, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        chat = settings.web_chat
        self.allowed = chat.allowed_origins
        self.sessions = TokenBuckets(chat.session_burst, chat.session_per_minute)
        self.addresses = TokenBuckets(chat.address_burst, chat.address_per_minute)
        self.new_by_address = TokenBuckets(chat.new_per_address_burst,
                                           chat.new_per_address_per_minute)
        self.new_anywhere = TokenBuckets(max(1, int(chat.new_per_minute)), chat.new_per_minute,
                                         max_keys=1)
        self.words = engine.renderer.names(ERRORS_TEMPLATE, practice=settings.practice)
        emergency = emergency_number(settings.phone_region, chat.emergency_number)
        page_words = engine.renderer.names(PAGE_TEMPLATE, practice=settings.practice,
                                           emergency=emergency)
        self.logo = chat.logo_file.read_bytes() if chat.logo_file else b""
        self.logo_type = LOGO_TYPES[chat.logo_file.suffix.lower()] if chat.logo_file else ""
        self.page = chat_page_html(page_words, self.words, {
            "brand": chat.brand_color, "emergency": emergency,
            "logo": "/chat/logo" if self.logo else DEFAULT_LOGO})
        self.assets = {name: static_text(name) for name in ASSETS}
        self.assets["embed.js"] = embed_script(self.assets["embed.js"], {
            "label": chat.launcher_label, "close": plain(str(page_words.close)).strip(),
            "position": chat.launcher_position, "brand": chat.brand_color})
        self.policy = page_policy(self.allowed)
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.stopping = False

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/chat", self.chat_page)
        app.router.add_get("/chat/embed.js", self.embed_script)
        app.router.add_get("/chat/assets/{name}", self.asset)
        app.router.add_get("/chat/logo", self.logo_image)
        for name, handler in (("resume", self.resume), ("turn", self.turn),
                              ("poll", self.poll)):
            app.router.add_post(f"/chat/api/{name}", self._guarded(handler))
            app.router.add_route("OPTIONS", f"/chat/api/{name}", self.preflight)

    # -- pages and assets -----------------------------------------------------------------------

    async def chat_page(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(text=self.page, content_type="text/html", charset="utf-8",
                                headers={"Cache-Control": "no-cache"})
        return secure(response, self.policy)

    async def embed_script(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(text=self.assets["embed.js"],
                                headers={"Content-Type": ASSETS["embed.js"],
                                         "Cache-Control": ASSET_CACHE})
        return secure(response, cross_origin=True)  # loaded by the practice's pages

    async def asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ASSETS or name == "embed.js":
            raise web.HTTPNotFound()
        response = web.Response(text=self.assets[name], headers={
            "Content-Type": ASSETS[name], "Cache-Control": ASSET_CACHE})
        return secure(response)

    async def logo_image(self, request: web.Request) -> web.StreamResponse:
        """The practice's logo (web_chat.logo_file), served here: no request leaves the bot."""
        if not self.logo:
            raise web.HTTPNotFound()
        response = web.Response(body=self.logo, headers={
            "Content-Type": self.logo_type, "Cache-Control": ASSET_CACHE})
        return secure(response)

    async def preflight(self, request: web.Request) -> web.StreamResponse:
        """CORS preflight: granted to the allowed origins only, for a JSON POST."""
        origin = request.headers.get("Origin", "").lower()
        response = web.Response(status=204)
        cors(response, origin, self.allowed)
        if origin in self.allowed:
            response.headers["Access-Control-Allow-Methods"] = "POST"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
        return secure(response)

    # -- the API --------------------------------------------------------------------------------

    def _guarded(self, handler: Callable[[web.Request, str, Json], Awaitable[Json]]) -> Handler:
        """Origin, rate limits, body and session checked; refusals answered as friendly JSON;
        requests in flight counted so a stop lets them finish."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            origin = request.headers.get("Origin", "").lower()
            self._started()
            try:
                if self.stopping:
                    raise Refused(503, BUSY, retry_after=2)
                origin = checked_origin(request, self.allowed, self.settings.public_url)
                address = self._address(request)
                self._limit(self.addresses, address)
                body = await json_body(request)
                session = session_id(body)
                try:
                    self._limit(self.sessions, session)
                except Refused:
                    self.addresses.give_back(address)  # one limit refusing is enough
                    raise
                response = web.json_response(await handler(request, session, body),
                                             headers={"Cache-Control": "no-store"})
            except Refused as refused:
                response = refused.response(self.words)
            except Exception as error:  # the store is busy or down: say so, never the detail
                log.error("web chat request failed: %s", type(error).__name__, exc_info=error)
                response = Refused(503, FAILED, retry_after=2).response(self.words)
            finally:
                self._finished()
            cors(response, origin, self.allowed)
            return secure(response)

        return guarded

    async def resume(self, request: web.Request, session: str, body: Json) -> Json:
        """The conversation's current question, without a turn; nothing for a new person (the
        page then starts with `/start`)."""
        pending = await self._collect(session)
        current = await self.engine.current(CHANNEL, session)
        if current is not None and current.extras.get("pending"):
            # a question of the dialog's own (delete everything?): asked again
            current = await self.engine.handle(Event.from_text(CHANNEL, session, "/forget"))
        answer = _current_json(current)
        answer["messages"] = [*pending, *answer["messages"]]
        return answer

    async def turn(self, request: web.Request, session: str, body: Json) -> Json:
        """One thing the person did: a press (with the turn it was shown on) or typed text."""
        event = _event(session, body)
        update = message_id(body)
        if await self.engine.store.load(CHANNEL, session) is None:
            if event.kind is EventKind.COMMAND and event.command == "start":
                # The page opening: answered, kept nowhere, until the person answers.
                return {**reply_json(self.engine.preview(event)), "relay": False}
            self._new_conversation(request)
            # The first answer: the opening they were shown is taken first, so it is applied to
            # the question they saw.
            opening = await self.engine.handle(Event.from_text(CHANNEL, session, "/start"))
            if event.kind is EventKind.PRESS:  # the opening is all a new session was shown
                event = replace(event, turn=opening.turn)
        pending = await self._collect(session)
        # The message id, under the session's: a retried request is applied once, and one
        # browser's ids can never answer for another's.
        reply = await self.engine.handle(replace(event, update_id=f"{session}:{update}"))
        answer = reply_json(reply)
        if reply.stale and not reply.messages:
            # The press this page shows was made already (in another tab, or sent twice):
            # nothing to say about it, but this page still needs the current question.
            answer["messages"] = _current_json(
                await self.engine.current(CHANNEL, session))["messages"]
        answer["messages"] = [*pending, *answer["messages"]]
        answer["relay"] = reply.relay
        return answer

    async def poll(self, request: web.Request, session: str, body: Json) -> Json:
        """Messages waiting for the person (a staff member's reply), taken from the outbox."""
        messages = await self._collect(session)
        current = await self.engine.current(CHANNEL, session)
        return {"messages": messages, "relay": bool(current and current.relay)}

    async def _collect(self, session: str) -> list[Json]:
        """Take the person's waiting outbox messages (oldest first): they are shown now."""
        taken = await self.engine.collect(Address(CHANNEL, session), POLL_BATCH)
        return [message_json(outgoing.message, outgoing.turn) for outgoing in taken
                if isinstance(outgoing.message, Message)]

    # -- limits and the count in flight ---------------------------------------------------------

    def _address(self, request: web.Request) -> str:
        return client_address(request.headers, request.remote,
                              self.settings.web_chat.trust_forwarded_for)

    def _new_conversation(self, request: web.Request) -> None:
        """Refused (429) when this address, or everyone together, starts too many at once."""
        address = self._address(request)
        self._limit(self.new_by_address, address)
        try:
            self._limit(self.new_anywhere, "")
        except Refused:
            self.new_by_address.give_back(address)
            raise

    @staticmethod
    def _limit(buckets: TokenBuckets, key: str) -> None:
        wait = buckets.wait_needed(key)
        if wait:
            raise Refused(429, SLOW_DOWN, retry_after=wait)

    def _started(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def _finished(self) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self.idle.set()


def _event(session: str, body: Json) -> Event:
    """The Event a turn's body describes; Refused (400/413) with a friendly message."""
    if "choice" in body:
        choice, turn = body.get("choice"), body.get("turn")
        if (not isinstance(choice, str) or not 0 < len(choice) <= MAX_CHOICE_ID
                or not isinstance(turn, int) or isinstance(turn, bool)
                or not 0 <= turn <= MAX_TURN):
            raise Refused(400, BAD_PRESS)
        return Event(CHANNEL, session, EventKind.PRESS, choice_id=choice, turn=turn)
    typed = body.get("text")
    if not isinstance(typed, str):
        raise Refused(400, EMPTY)
    if len(typed) > MAX_TEXT:
        raise Refused(413, TOO_LONG, length=len(typed), limit=MAX_TEXT)
    text = clean_text(typed)
    if not text:
        raise Refused(400, EMPTY)
    return Event.from_text(CHANNEL, session, text)


def embed_script(script: str, settings: dict[str, str]) -> str:
    """embed.js with the practice's launcher settings in place of its defaults."""
    text = json.dumps(settings).replace("<", "\\u003c")
    return EMBED_SETTINGS.sub(lambda _: text, script, count=1)


def chat_page_html(page_words: Any, error_words: Any, values: dict[str, str] | None = None) -> str:
    """static/chat.html with each `{{name}}` filled in from templates/web/page.j2 (or, for
    the script's own error lines, errors.j2; or the settings' `values`: colour, logo,
    emergency number), as plain text escaped for HTML."""
    words = {name: getattr(error_words, name) for name in PAGE_ERRORS} | (values or {})

    def word(match: re.Match[str]) -> str:
        value = words[match[1]] if match[1] in words else getattr(page_words, match[1])
        return html.escape(plain(str(value)).strip())

    return _PLACEHOLDER.sub(word, static_text("chat.html"))


def _current_json(current: Reply | None) -> Json:
    """The current question as the page shows it after a reload ("new": nothing yet)."""
    if current is None:
        return {"messages": [], "turn": 0, "state": "", "expects_text": False, "new": True,
                "relay": False}
    return {**reply_json(current), "new": False, "relay": current.relay}
