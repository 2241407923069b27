"""The wire side of a fake Discord on 127.0.0.1, for the real discord.py client.

It serves the REST routes the bot calls (login, application info, gateway address, command
sync, interaction callbacks, webhook follow-ups and edits, DM channels, channel messages) and a
gateway websocket (HELLO, IDENTIFY -> READY, heartbeat ACK). It sends each client only the
events its intents ask for, and, as Discord does, hides what a server message says from a bot
without the Message Content intent unless the message mentions it. Tests push
INTERACTION_CREATE and MESSAGE_CREATE events as a person would cause them (see person.py) and
read back every message the bot sent, with its content, buttons, flags and who can see it.

The bot says when it has handled each update (`handled`, which the test harness hangs on the
Discord channel's `after`), so `settle` waits for that, never for a silence.

Faults, on request (`inject_faults` at random, seeded; `fail` one by one; faults.py):
interaction responses, follow-ups and their edits, DM sends and DM channel creation answered
429, 403, 5xx or not at all, without doing what was asked.

A person can run only a slash command their command picker shows where they are, as Discord
decides it from the last sync of each place: a server's own commands in that server only,
never in DMs; a global command wherever its `contexts` say (none: everywhere). Who may use a
command in a server is left to the bot, since a server's admins can change it.

It is strict by default: what Discord refuses, it refuses with Discord's status, JSON error
code and message (rules.py holds the message and command rules and their sources); the
interaction windows, rate limits and gateway sessions are here. Every refusal is kept in
`refused`, so a test can say which request Discord would have turned down and why.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord import rules
from tests.fakes.discord.faults import (
    CALLBACK,
    DM,
    EDIT,
    FAULT_KINDS,
    FAULT_TARGETS,
    FOLLOWUP,
    OPEN_DM,
    Faults,
)

APP_ID = 900_000_000_000_000_001
GUILD_ID = 900_000_000_000_000_100
PUBLIC_CHANNEL_ID = 900_000_000_000_000_200
STAFF_CHANNEL_ID = 900_000_000_000_000_300  # private: only the practice's staff read it
EPHEMERAL, LOADING = 1 << 6, 1 << 7  # message flags
IN_GUILD, IN_BOT_DM, IN_PRIVATE_CHANNEL = 0, 1, 2  # interaction contexts
MANAGE_GUILD = 1 << 5
GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = 1 << 9, 1 << 12, 1 << 15  # gateway intents
BOT_USER = {
    "id": str(APP_ID),
    "username": "kneecheck",
    "global_name": "Knee Check",
    "discriminator": "0",
    "avatar": None,
    "bot": True,
}
TIMESTAMP = "2025-01-01T00:00:00.000000+00:00"
API = "/api/v10"

# Interactions (developers/interactions/receiving-and-responding.mdx, "Responding to an
# Interaction"): "you must send an initial response within 3 seconds of receiving the event. If
# the 3 second deadline is exceeded, the token will be invalidated"; "Interaction tokens are
# valid for 15 minutes".
RESPONSE_WINDOW = 3.0
TOKEN_LIFETIME = 15 * 60.0
UNKNOWN_INTERACTION = {"message": "Unknown interaction", "code": 10062}  # 404
ALREADY_ACKNOWLEDGED = {"message": "Interaction has already been acknowledged.",
                        "code": 40060}  # 400
UNKNOWN_WEBHOOK = {"message": "Unknown Webhook", "code": 10015}  # 404: no (valid) response yet
INVALID_WEBHOOK_TOKEN = {"message": "Invalid Webhook Token", "code": 50027}  # 401: expired
UNKNOWN_MESSAGE = {"message": "Unknown Message", "code": 10008}  # 404
EMPTY_MESSAGE = {"message": "Cannot send an empty message", "code": 50006}  # 400

# Gateway (developers/events/gateway.mdx, "Resuming", "Disconnecting"; opcodes from
# developers/topics/opcodes-and-status-codes.mdx): 7 RECONNECT, 9 INVALID_SESSION (`d`: may
# resume), 6 RESUME {token, session_id, seq} -> the missed events in order, then RESUMED.
# Closing with 1000 or 1001 ends the session; any other close leaves it resumable.
HELLO, HEARTBEAT_ACK, RECONNECT, INVALID_SESSION = 10, 11, 7, 9
ENDS_SESSION = (1000, 1001)


@dataclass(frozen=True)
class RateLimit:
    """A route's bucket: `limit` requests per `per` seconds for each top-level resource (a
    channel, or a webhook and its token)."""

    limit: int
    per: float


# developers/topics/rate-limits.mdx: per-route limits, keyed by the top-level resource (a
# channel; a webhook id + token), with X-RateLimit-* headers on every response, and 429 with
# {"message": "You are being rate limited.", "retry_after": <float>, "global": false} once a
# bucket is spent. The docs give no numbers ("your app should not hard code" them); 5 messages
# per 5 s per channel is what bots commonly observe for message creation. The defaults here
# are looser, so the stories stay fast; discord.py waits out the headers itself either way, and
# tests/test_discord_fake.py sets the observed value.
OBSERVED_MESSAGE_LIMIT = RateLimit(5, 5.0)
DEFAULT_RATE_LIMITS = {
    "channel-messages": RateLimit(5, 1.0),  # POST /channels/{channel}/messages
    "webhook-messages": RateLimit(5, 1.0),  # follow-ups and edits, per interaction token
}


@dataclass
class Interaction:
    """One interaction the fake sent, and how the bot acknowledged it."""

    id: int
    token: str
    user_id: int
    channel_id: int
    in_guild: bool
    message_id: int | None = None  # the message a pressed button sits on
    sent_at: float = 0.0
    acked_at: float | None = None
    callback: dict[str, Any] = field(default_factory=dict)
    original_id: int | None = None  # @original: the response message, once there is one
    loading: bool = False  # deferred with "thinking": the first follow-up fills the message
    followed_at: float | None = None  # the bot's first follow-up or edit through the token


@dataclass
class Sent:
    """A message the bot posted, and who can see it (None: everyone in the channel)."""

    message: dict[str, Any]
    audience: int | None
    body: dict[str, Any] = field(default_factory=dict)  # the request, e.g. allowed_mentions

    @property
    def id(self) -> int:
        return int(self.message["id"])

    @property
    def channel_id(self) -> int:
        return int(self.message["channel_id"])

    @property
    def content(self) -> str:
        return str(self.message["content"])

    @property
    def ephemeral(self) -> bool:
        return bool(self.message.get("flags", 0) & EPHEMERAL)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b for row in self.message.get("components", []) for b in row["components"]]

    def button(self, label: str) -> dict[str, Any] | None:
        return next((b for b in self.buttons if b.get("label") == label), None)


@dataclass
class Refusal:
    """A request the fake turned down as Discord would: what was asked, and the answer."""

    method: str
    path: str
    status: int
    error: dict[str, Any]
    body: Any = None


@dataclass
class Session:
    """A gateway session: its events by sequence, kept so a RESUME can replay what it missed."""

    id: str
    intents: int
    socket: web.WebSocketResponse | None
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Window:
    opened: float
    used: int = 0


class Refused(Exception):
    """Raised inside a handler: answer with Discord's error."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # exactly "application/json", as Discord sends it: discord.py compares the header verbatim;
    # `Via`, as on every Discord response: discord.py takes a 429 without it for a Cloudflare ban
    sent = {"Content-Type": "application/json", "Via": "1.1 google", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=sent)


class FakeDiscord:
    """REST and gateway of a fake Discord; start() binds a free port on 127.0.0.1."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.url = ""
        self.requests: list[tuple[str, str]] = []
        self.unknown_routes: list[tuple[str, str]] = []
        self.refused: list[Refusal] = []  # turned down for what was asked (not a 429)
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.replayed: list[str] = []  # event names sent again on a RESUME
        self.sessions: dict[str, Session] = {}
        self.command_syncs: list[tuple[int | None, list[dict[str, Any]]]] = []
        self.interactions: dict[str, Interaction] = {}
        self.sent: dict[int, Sent] = {}
        self.edits: list[tuple[int, dict[str, Any]]] = []
        # every message as shown, in the order shown: posted, filled or edited (id, body)
        self.shown: list[tuple[int, dict[str, Any]]] = []
        self.users: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.closed_dms: set[int] = set()
        self.forbidden_channels: set[int] = set()  # the bot lacks Send Messages there
        self.response_window = RESPONSE_WINDOW  # seconds for the first response
        self.token_lifetime = TOKEN_LIFETIME  # seconds follow-ups and edits may use the token
        self.rate_limits: dict[str, RateLimit] = dict(DEFAULT_RATE_LIMITS)
        self.rate_limited: list[tuple[str, str]] = []  # (bucket, resource) of every 429
        self._windows: dict[tuple[str, str], _Window] = {}
        self._ids = itertools.count(APP_ID + 10_000)
        self._sockets: dict[web.WebSocketResponse, str | None] = {}  # -> its session
        self.slow_sends = 0.0  # seconds each follow-up or channel message takes to be answered
        # updates sent to a bot and not yet reported handled; whether any bot reports at all
        self.unhandled: set[int] = set()
        self.listened = False
        self.faults = Faults()  # none until a test asks
        self._runner: web.AppRunner | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1, on a port the OS picks."""
        app = web.Application(
            middlewares=[self._record, self._faults, self._refusals, self._rate_limit])
        app.router.add_get(f"{API}/users/@me", self._me)
        app.router.add_get(f"{API}/oauth2/applications/@me", self._application)
        app.router.add_get(f"{API}/gateway/bot", self._gateway_bot)
        app.router.add_put(f"{API}/applications/{{app}}/commands", self._sync)
        app.router.add_put(f"{API}/applications/{{app}}/guilds/{{guild}}/commands", self._sync)
        app.router.add_post(f"{API}/interactions/{{id}}/{{token}}/callback", self._callback)
        app.router.add_post(f"{API}/webhooks/{{app}}/{{token}}", self._followup)
        app.router.add_patch(f"{API}/webhooks/{{app}}/{{token}}/messages/{{message}}", self._edit)
        app.router.add_post(f"{API}/users/@me/channels", self._open_dm)
        app.router.add_post(f"{API}/channels/{{channel}}/messages", self._channel_message)
        app.router.add_patch(f"{API}/channels/{{channel}}/messages/{{message}}",
                             self._edit_channel_message)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Close every gateway connection and the server."""
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests do --------------------------------------------------------------------------

    def add_user(self, user_id: int, name: str) -> dict[str, Any]:
        """A person on the server."""
        user = {
            "id": str(user_id),
            "username": name,
            "global_name": name.title(),
            "discriminator": "0",
            "avatar": None,
        }
        self.users[user_id] = user
        return user

    def inject_faults(self, share: float, seed: int, *,
                      kinds: tuple[int, ...] = FAULT_KINDS,
                      targets: frozenset[str] = FAULT_TARGETS) -> None:
        """From now on answer `share` of the requests to `targets` with one of `kinds`, drawn
        at random from `seed` (the same seed, the same draws for the same requests)."""
        self.faults.inject(share, seed, kinds=kinds, targets=targets)

    def fail(self, target: str, status: int, *, retry_after: float = 0.0,
             times: int = 1) -> None:
        """Answer the next `times` requests to `target` (CALLBACK, FOLLOWUP, EDIT, DM,
        OPEN_DM) with `status` (429, 403, 5xx; HANG: none) instead of doing them."""
        self.faults.plan(target, status, retry_after=retry_after, times=times)

    def listen_to(self, channel: Any) -> None:
        """Hear from the bot's Discord channel when it has handled each update (its `after`,
        as the Telegram fake hears the dispatcher's)."""
        channel.after.append(self.handled)
        self.listened = True

    def handled(self, update_id: int) -> None:
        """The bot reports an interaction or message handled."""
        self.unhandled.discard(update_id)

    async def wait_identified(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` clients have identified on the gateway."""
        await self.until(lambda: len(self.identifies) >= count, timeout, "no IDENTIFY")

    async def wait_resumed(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` sessions have been resumed (RESUME answered with RESUMED)."""
        await self.until(lambda: len(self.resumes) >= count, timeout, "no RESUME")

    def commands_shown(self, *, in_guild: bool) -> list[str]:
        """The slash commands a person's command picker shows in the server, or in their DM
        with the bot: each place's last bulk overwrite counts."""
        latest = dict(self.command_syncs)  # guild id (None: global) -> commands, last one wins
        context = IN_GUILD if in_guild else IN_BOT_DM
        everywhere = (IN_GUILD, IN_BOT_DM, IN_PRIVATE_CHANNEL)
        shown = [c["name"] for c in latest.get(None, [])
                 if context in (c.get("contexts") or everywhere)]
        if in_guild:
            shown += [c["name"] for c in latest.get(GUILD_ID, [])]
        return shown

    async def slash(
        self, user_id: int, name: str, *, in_guild: bool = True, permissions: int = 0
    ) -> Interaction:
        """A person runs a slash command in the server (or in their DM with the bot); only one
        their command picker shows there can be run. A guild command is never shown in a DM
        (application-commands.mdx: "Guild commands are not available in DMs"), so Discord
        never sends the bot one from a DM: this raises AssertionError and dispatches nothing."""
        if name not in self.commands_shown(in_guild=in_guild):
            place = "the server" if in_guild else "a DM"
            raise AssertionError(f"/{name} is not in the command picker in {place}")
        data = {"id": str(next(self._ids)), "name": name, "type": 1, "options": []}
        return await self._interact(2, user_id, data, in_guild, permissions)

    async def click(self, user_id: int, sent: Sent, custom_id: str) -> Interaction:
        """A person presses a button on a message."""
        data = {"custom_id": custom_id, "component_type": 2}
        in_guild = sent.message["channel_id"] == str(PUBLIC_CHANNEL_ID)
        return await self._interact(3, user_id, data, in_guild, 0, sent)

    async def dm(self, user_id: int, text: str) -> None:
        """A person types a message in their DM with the bot."""
        channel_id = self._dm_channel(user_id)
        message = self._message(channel_id, text, author=self.users[user_id])
        await self.dispatch("MESSAGE_CREATE", message, DIRECT_MESSAGES)

    async def reply(self, user_id: int, to: Sent, text: str, *, mention: bool = True) -> None:
        """Someone replies (Discord's Reply) to a message the bot posted in a server channel;
        `mention` is the reply's @ON switch, on by default, which mentions the bot."""
        message = self._message(to.channel_id, text, author=self.users[user_id])
        message["type"] = 19  # a reply
        message["message_reference"] = {"message_id": str(to.id),
                                        "channel_id": str(to.channel_id),
                                        "guild_id": str(GUILD_ID)}
        message["referenced_message"] = to.message
        message["guild_id"] = str(GUILD_ID)
        message["member"] = {"roles": [], "joined_at": TIMESTAMP, "deaf": False, "mute": False}
        message["mentions"] = [BOT_USER] if mention else []
        await self.dispatch("MESSAGE_CREATE", message, GUILD_MESSAGES)

    async def reconnect(self) -> None:
        """Opcode 7 RECONNECT to every connected session: the client should reconnect and
        resume. Events from now on wait in the session until it resumes (or are lost with it)."""
        for session in self.sessions.values():
            socket, session.socket = session.socket, None
            if socket is not None and not socket.closed:
                await socket.send_str(json.dumps({"op": RECONNECT, "d": None}))

    async def invalidate_sessions(self, *, resumable: bool) -> None:
        """Opcode 9 INVALID_SESSION to every connected session, with `d` = `resumable`: True,
        the client may resume; False, the session is gone and it must identify anew."""
        for session in list(self.sessions.values()):
            socket, session.socket = session.socket, None
            if not resumable:
                del self.sessions[session.id]
            if socket is not None and not socket.closed:
                await socket.send_str(json.dumps({"op": INVALID_SESSION, "d": resumable}))

    async def settle(self, timeout: float = 10.0) -> None:
        """Until the bot has reported every update it was sent as handled (its turn committed
        and its reply flushed, or failed); a retry the outbox scheduled may still be due."""
        if self.unhandled and not self.listened:
            raise AssertionError("no bot reports what it handled: fake.listen_to(channel)")
        await self.until(lambda: not self.unhandled, timeout, "the bot did not answer")

    def visible_to(self, user_id: int) -> list[Sent]:
        """Every bot message this person can see privately: their DM and ephemeral replies."""
        return [s for s in self.sent.values() if s.audience == user_id]

    def public(self) -> list[Sent]:
        """Every bot message anyone in the server's channel can see."""
        staff = STAFF_CHANNEL_ID
        return [s for s in self.sent.values() if s.audience is None and s.channel_id != staff]

    def staff_posts(self) -> list[Sent]:
        """Every bot message in the private staff channel."""
        return [s for s in self.sent.values() if s.channel_id == STAFF_CHANNEL_ID]

    async def dispatch(self, event: str, data: dict[str, Any], intent: int = 0) -> None:
        """Send a gateway event to every session whose intents include `intent`; a session
        between connections keeps it for its RESUME. A person's interaction or message is
        awaited by `settle` until the bot reports it handled."""
        for session in list(self.sessions.values()):
            if intent and not session.intents & intent:
                continue
            if event in ("INTERACTION_CREATE", "MESSAGE_CREATE"):
                self.unhandled.add(int(data["id"]))
            session.seq += 1
            payload = {"op": 0, "t": event, "s": session.seq,
                       "d": self._as_seen_with(session.intents, data)}
            session.sent.append(payload)
            socket = session.socket
            if socket is None or socket.closed:
                continue
            try:
                await socket.send_str(json.dumps(payload))
            except ConnectionError:  # closing under us: kept for the RESUME
                continue

    @staticmethod
    def _as_seen_with(intents: int, data: dict[str, Any]) -> dict[str, Any]:
        """A server message without the Message Content intent: empty, unless it mentions
        the bot (DMs always carry their content)."""
        mentioned = any(m["id"] == BOT_USER["id"] for m in data.get("mentions", ()))
        if "guild_id" not in data or "content" not in data or intents & MESSAGE_CONTENT:
            return data
        return data if mentioned else {**data, "content": ""}

    # -- REST -----------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/gateway":
            self.requests.append((request.method, request.path))
        return await handler(request)

    @web.middleware
    async def _faults(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """A planned or random fault instead of the request, for the requests faults target."""
        target = self._fault_target(request)
        if target is None:
            return await handler(request)
        fault = self.faults.draw(target)
        if fault is None:
            return await handler(request)
        status, body, headers = await self.faults.answer(fault)
        return _json(body, status=status, headers=headers)

    def _fault_target(self, request: web.Request) -> str | None:
        path, method = request.path, request.method
        if path.endswith("/callback"):
            return CALLBACK
        if path.startswith(f"{API}/webhooks/"):
            return FOLLOWUP if method == "POST" else EDIT
        if path == f"{API}/users/@me/channels":
            return OPEN_DM
        channel = request.match_info.get("channel", "")
        if method == "POST" and channel.isdigit() and int(channel) in self.dm_channels.values():
            return DM
        return None

    @web.middleware
    async def _refusals(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refused as refusal:
            try:
                body = await request.json()
            except ValueError:
                body = None
            self.refused.append(
                Refusal(request.method, request.path, refusal.status, refusal.error, body))
            return _json(refusal.error, status=refusal.status)

    @web.middleware
    async def _rate_limit(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Per-route buckets (rate-limits.mdx): X-RateLimit-* headers on each answer, 429 with
        the JSON body and `retry_after` once the bucket is spent."""
        bucket = self._bucket_of(request)
        if bucket is None or bucket[0] not in self.rate_limits:
            return await handler(request)
        name = bucket[0]
        limit = self.rate_limits[name]
        loop_now, wall_now = asyncio.get_running_loop().time(), time.time()
        window = self._windows.get(bucket)
        if window is None or loop_now >= window.opened + limit.per:
            window = self._windows[bucket] = _Window(loop_now)
        # rounded up to the millisecond: a client that waits exactly this long finds it open
        reset_after = math.ceil((window.opened + limit.per - loop_now) * 1000) / 1000
        headers = {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Reset": f"{wall_now + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": name,
        }
        if window.used >= limit.limit:
            self.rate_limited.append(bucket)  # not in `refused`: the client retries it
            headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user",
                        "Retry-After": str(math.ceil(reset_after))}
            body = {"message": "You are being rate limited.", "retry_after": reset_after,
                    "global": False}
            return _json(body, status=429, headers=headers)
        window.used += 1
        response = await handler(request)
        response.headers.update(headers | {"X-RateLimit-Remaining": str(limit.limit - window.used)})
        return response

    @staticmethod
    def _bucket_of(request: web.Request) -> tuple[str, str] | None:
        info = request.match_info
        if request.method == "POST" and "channel" in info and "message" not in info:
            return ("channel-messages", info["channel"])
        if request.path.startswith(f"{API}/webhooks/"):
            return ("webhook-messages", f"{info.get('app')}/{info.get('token')}")
        return None

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return _json(BOT_USER)

    async def _application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(APP_ID),
                "name": "Knee Check",
                "icon": None,
                "description": "",
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": {**BOT_USER, "bot": False, "username": "clinic"},
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        ws_url = self.url.replace("http://", "ws://") + "/gateway"
        return _json({"url": ws_url, "shards": 1, "session_start_limit": limit})

    async def _sync(self, request: web.Request) -> web.Response:
        """Bulk overwrite, globally or for one guild: every command checked, all or nothing."""
        commands = await request.json()
        errors = rules.commands_errors(commands)
        if errors:
            raise Refused(400, rules.invalid_form_body(errors))
        too_many = rules.too_many_commands(commands)
        if too_many is not None:
            raise Refused(400, too_many)
        guild = request.match_info.get("guild")
        self.command_syncs.append((int(guild) if guild else None, commands))
        created = [
            {
                "id": str(next(self._ids)),
                "application_id": str(APP_ID),
                "version": "1",
                **({"guild_id": guild} if guild else {}),
                **command,
            }
            for command in commands
        ]
        return _json(created)

    async def _callback(self, request: web.Request) -> web.Response:
        """The initial response: once, within `response_window` s of the interaction."""
        interaction = self.interactions.get(request.match_info["token"])
        loop_now = asyncio.get_running_loop().time()
        if interaction is None or str(interaction.id) != request.match_info["id"]:
            raise Refused(404, UNKNOWN_INTERACTION)
        if interaction.acked_at is not None:
            raise Refused(400, ALREADY_ACKNOWLEDGED)
        if loop_now - interaction.sent_at > self.response_window:
            raise Refused(404, UNKNOWN_INTERACTION)  # the token was invalidated
        body = await request.json()
        kind, data = body["type"], body.get("data") or {}
        if kind in (4, 7):
            self._check_message(data, prefix="data", may_be_empty=kind == 7)
        interaction.callback = body
        interaction.acked_at = loop_now
        resource: dict[str, Any] = {"type": kind}
        if kind == 4:  # a message in reply
            sent = self._post(interaction, data)
            interaction.original_id = sent.id
            resource["message"] = sent.message
        elif kind == 5:  # "thinking": a loading message the first follow-up fills
            placeholder = {"flags": (data.get("flags", 0) or 0) & EPHEMERAL | LOADING}
            interaction.original_id = self._post(interaction, placeholder).id
            interaction.loading = True
        elif interaction.message_id is not None:  # 6, 7: the pressed message is @original
            interaction.original_id = interaction.message_id
            if kind == 7:
                resource["message"] = self._apply_edit(interaction.message_id, data)
        flags = data.get("flags", 0)
        return _json(
            {
                "interaction": {
                    "id": str(interaction.id),
                    "type": 2,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(flags & EPHEMERAL),
                },
                "resource": resource,
            }
        )

    def _token_in_use(self, request: web.Request) -> Interaction:
        """The interaction whose token a follow-up or edit uses: answered, and not expired."""
        interaction = self.interactions.get(request.match_info["token"])
        if interaction is None or interaction.acked_at is None:
            raise Refused(404, UNKNOWN_WEBHOOK)
        now = asyncio.get_running_loop().time()
        if now - interaction.sent_at > self.token_lifetime:
            raise Refused(401, INVALID_WEBHOOK_TOKEN)
        if interaction.followed_at is None:
            interaction.followed_at = now
        return interaction

    async def _followup(self, request: web.Request) -> web.Response:
        """A follow-up. Right after a deferred ("thinking") response it fills that message
        instead, keeping the deferral's ephemeral flag (receiving-and-responding.mdx, "Create
        Followup Message": "the ephemeral flag will be ignored, and the value you provided in
        the initial defer response will be preserved")."""
        interaction = self._token_in_use(request)
        body = await request.json()
        self._check_message(body)
        await asyncio.sleep(self.slow_sends)
        if interaction.loading and interaction.original_id in self.sent:
            interaction.loading = False
            return _json(self._fill(interaction.original_id, body))
        return _json(self._post(interaction, body).message)

    async def _edit(self, request: web.Request) -> web.Response:
        interaction = self._token_in_use(request)
        target = request.match_info["message"]
        message_id = interaction.original_id if target == "@original" else int(target)
        if message_id is None or message_id not in self.sent:
            raise Refused(404, UNKNOWN_MESSAGE)
        body = await request.json()
        self._check_message(body, may_be_empty=True)
        if message_id == interaction.original_id and interaction.loading:
            interaction.loading = False  # an edit of the loading message fills it too
            return _json(self._fill(message_id, body))
        return _json(self._apply_edit(message_id, body))

    async def _open_dm(self, request: web.Request) -> web.Response:
        user_id = int((await request.json())["recipient_id"])
        channel_id = self._dm_channel(user_id)
        return _json({"id": str(channel_id), "type": 1, "recipients": [self.users[user_id]]})

    async def _channel_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        channel_id = int(request.match_info["channel"])
        owner = next((u for u, c in self.dm_channels.items() if c == channel_id), None)
        if owner in self.closed_dms:
            error = {"message": "Cannot send messages to this user", "code": 50007}
            return _json(error, status=403)
        if channel_id in self.forbidden_channels:
            return _json({"message": "Missing Permissions", "code": 50013}, status=403)
        body = await request.json()
        self._check_message(body)
        await asyncio.sleep(self.slow_sends)
        message = self._message(channel_id, body.get("content") or "", author=BOT_USER, extra=body)
        self.sent[int(message["id"])] = Sent(message, owner, body)
        self.shown.append((int(message["id"]), body))
        return _json(message)

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        message_id = int(request.match_info["message"])
        sent = self.sent.get(message_id)
        if sent is None or sent.channel_id != int(request.match_info["channel"]):
            raise Refused(404, UNKNOWN_MESSAGE)
        body = await request.json()
        self._check_message(body, may_be_empty=True)
        return _json(self._apply_edit(message_id, body))

    async def _unknown(self, request: web.Request) -> web.Response:
        self.unknown_routes.append((request.method, request.path))
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    @staticmethod
    def _check_message(body: dict[str, Any], *, prefix: str = "",
                       may_be_empty: bool = False) -> None:
        """Refuse a message Discord would (rules.py); an edit may leave it empty."""
        errors = rules.message_errors(body)
        if errors:
            raise Refused(400, rules.invalid_form_body({prefix: errors} if prefix else errors))
        if not may_be_empty and rules.is_empty(body):
            raise Refused(400, EMPTY_MESSAGE)

    # -- gateway --------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets[socket] = None  # neither identified nor resumed yet: no events
        await socket.send_str(json.dumps({"op": HELLO, "d": {"heartbeat_interval": 41250}}))
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                break
            await self._on_gateway_frame(socket, json.loads(frame.data))
        session = self.sessions.get(self._sockets.pop(socket, None) or "")
        if session is not None and session.socket is socket:
            session.socket = None  # between connections: events wait for a RESUME
            if socket.close_code in ENDS_SESSION:
                del self.sessions[session.id]
        return socket

    async def _on_gateway_frame(self, socket: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        if frame["op"] == 1:  # heartbeat
            await socket.send_str(json.dumps({"op": HEARTBEAT_ACK}))
        elif frame["op"] == 2:  # identify
            if frame["d"]["token"] != self.token:
                await socket.close(code=4004, message=b"Authentication failed.")
                return
            self.identifies.append(frame["d"])
            session = Session(f"session-{len(self.identifies)}", int(frame["d"]["intents"]),
                              socket)
            self.sessions[session.id] = session
            self._sockets[socket] = session.id
            ready = {
                "v": 10,
                "user": BOT_USER,
                "guilds": [],
                "session_id": session.id,
                "resume_gateway_url": self.url.replace("http://", "ws://") + "/gateway",
                "application": {"id": str(APP_ID), "flags": 0},
            }
            session.seq += 1
            await socket.send_str(json.dumps({"op": 0, "t": "READY", "s": session.seq,
                                              "d": ready}))
        elif frame["op"] == 6:  # resume
            await self._resume(socket, frame["d"])

    async def _resume(self, socket: web.WebSocketResponse, resume: dict[str, Any]) -> None:
        """RESUME: the events the session missed after `seq`, in order, then RESUMED; an
        unknown (or ended) session gets INVALID_SESSION, not resumable."""
        if resume.get("token") != self.token:
            await socket.close(code=4004, message=b"Authentication failed.")
            return
        session = self.sessions.get(str(resume.get("session_id")))
        seq = resume.get("seq") or 0
        if session is None:
            await socket.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))
            return
        if seq > session.seq:
            await socket.close(code=4007, message=b"Invalid seq.")
            return
        self.resumes.append(resume)
        self._sockets[socket] = session.id
        while missed := [p for p in session.sent if p["s"] > seq]:
            for payload in missed:
                self.replayed.append(payload["t"])
                await socket.send_str(json.dumps(payload))
                seq = payload["s"]
        session.socket = socket  # no await since the last check: nothing slips between
        session.seq += 1
        await socket.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": session.seq, "d": {}}))

    # -- model ----------------------------------------------------------------------------------

    async def _interact(
        self,
        kind: int,
        user_id: int,
        data: dict[str, Any],
        in_guild: bool,
        permissions: int,
        on_message: Sent | None = None,
    ) -> Interaction:
        user = self.users[user_id]
        interaction_id = next(self._ids)
        channel_id = PUBLIC_CHANNEL_ID if in_guild else self._dm_channel(user_id)
        record = Interaction(
            interaction_id,
            f"token-{interaction_id}",
            user_id,
            channel_id,
            in_guild,
            message_id=on_message.id if on_message else None,
            sent_at=asyncio.get_running_loop().time(),
        )
        self.interactions[record.token] = record
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": kind,
            "data": data,
            "token": record.token,
            "version": 1,
            "locale": "en-US",
            "attachment_size_limit": 10_485_760,
            "app_permissions": "0",
            "entitlements": [],
            "channel_id": str(channel_id),
        }
        if in_guild:
            payload["guild_id"] = str(GUILD_ID)
            payload["channel"] = {
                "id": str(PUBLIC_CHANNEL_ID),
                "type": 0,
                "guild_id": str(GUILD_ID),
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
            }
            payload["member"] = {
                "user": user,
                "roles": [],
                "joined_at": TIMESTAMP,
                "permissions": str(permissions),
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        else:
            payload["user"] = user
            payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": [user]}
        if on_message is not None:
            payload["message"] = on_message.message
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    def _dm_channel(self, user_id: int) -> int:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = next(self._ids)
        return self.dm_channels[user_id]

    def _post(self, interaction: Interaction, body: dict[str, Any]) -> Sent:
        flags = body.get("flags", 0) or 0
        private = bool(flags & EPHEMERAL) or not interaction.in_guild
        message = self._message(
            interaction.channel_id, body.get("content") or "", author=BOT_USER, extra=body
        )
        message["webhook_id"] = str(APP_ID)
        sent = Sent(message, interaction.user_id if private else None, body)
        self.sent[sent.id] = sent
        self.shown.append((sent.id, body))
        return sent

    def _fill(self, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """The loading message of a deferred response gets its content: the flags stay the
        deferral's (ephemeral or not), and it shows now, so it counts as the newest message."""
        sent = self.sent.pop(message_id)
        message = sent.message
        message["content"] = body.get("content") or ""
        message["components"] = body.get("components") or []
        message["flags"] = message.get("flags", 0) & ~LOADING
        self.sent[message_id] = Sent(message, sent.audience, body)
        self.shown.append((message_id, body))
        return message

    def _apply_edit(self, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
        self.edits.append((message_id, body))
        self.shown.append((message_id, body))
        message = self.sent[message_id].message
        for key in ("content", "components"):
            if key in body:
                empty: Any = [] if key == "components" else ""
                message[key] = body[key] if body[key] is not None else empty
        message["edited_timestamp"] = TIMESTAMP
        return message

    def _message(
        self, channel_id: int, content: str, *, author: dict[str, Any], extra: Any = None
    ) -> dict[str, Any]:
        extra = extra or {}
        message = {
            "id": str(next(self._ids)),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": extra.get("flags", 0) or 0,
            "components": extra.get("components", []),
        }
        if channel_id == PUBLIC_CHANNEL_ID:
            message["guild_id"] = str(GUILD_ID)
        return message

    async def until(self, condition: Any, timeout: float, what: str) -> None:
        """Until `condition()` holds; TimeoutError(`what`) after `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if loop.time() > deadline:
                raise TimeoutError(what)
            await asyncio.sleep(0.01)
