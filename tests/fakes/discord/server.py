"""The wire side of a fake Discord on 127.0.0.1, for the real discord.py client.

It serves the REST routes the bot calls (login, application info, gateway address, command
sync, interaction callbacks, webhook follow-ups and edits, DM channels, channel messages) and a
gateway websocket (HELLO, IDENTIFY -> READY, heartbeat ACK). It sends each client only the
events its intents ask for, and, as Discord does, hides what a server message says from a bot
without the Message Content intent unless the message mentions it. Tests push
INTERACTION_CREATE and MESSAGE_CREATE events as a person would cause them (see person.py) and
read back every message the bot sent, with its content, buttons, flags and who can see it.

A person can run only a slash command their command picker shows where they are, as Discord
decides it from the last sync of each place: a server's own commands in that server only,
never in DMs; a global command wherever its `contexts` say (none: everywhere). Who may use a
command in a server is left to the bot, since a server's admins can change it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 900_000_000_000_000_001
GUILD_ID = 900_000_000_000_000_100
PUBLIC_CHANNEL_ID = 900_000_000_000_000_200
STAFF_CHANNEL_ID = 900_000_000_000_000_300  # private: only the practice's staff read it
EPHEMERAL = 1 << 6
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


def _json(data: Any, status: int = 200) -> web.Response:
    # exactly "application/json", as Discord sends it: discord.py compares the header verbatim
    headers = {"Content-Type": "application/json"}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers)


class FakeDiscord:
    """REST and gateway of a fake Discord; start() binds a free port on 127.0.0.1."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.url = ""
        self.requests: list[tuple[str, str]] = []
        self.unknown_routes: list[tuple[str, str]] = []
        self.identifies: list[dict[str, Any]] = []
        self.command_syncs: list[tuple[int | None, list[dict[str, Any]]]] = []
        self.interactions: dict[str, Interaction] = {}
        self.sent: dict[int, Sent] = {}
        self.edits: list[tuple[int, dict[str, Any]]] = []
        self.users: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.closed_dms: set[int] = set()
        self.forbidden_channels: set[int] = set()  # the bot lacks Send Messages there
        self._ids = itertools.count(APP_ID + 10_000)
        self._sequence = itertools.count(1)
        self._sockets: dict[web.WebSocketResponse, int] = {}  # socket -> intents identified
        self.slow_sends = 0.0  # seconds each follow-up or channel message takes to be answered
        self._last_request_at = 0.0
        self._runner: web.AppRunner | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1, on a port the OS picks."""
        app = web.Application(middlewares=[self._record])
        api = "/api/v10"
        app.router.add_get(f"{api}/users/@me", self._me)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._application)
        app.router.add_get(f"{api}/gateway/bot", self._gateway_bot)
        app.router.add_put(f"{api}/applications/{{app}}/commands", self._sync)
        app.router.add_put(f"{api}/applications/{{app}}/guilds/{{guild}}/commands", self._sync)
        app.router.add_post(f"{api}/interactions/{{id}}/{{token}}/callback", self._callback)
        app.router.add_post(f"{api}/webhooks/{{app}}/{{token}}", self._followup)
        app.router.add_patch(f"{api}/webhooks/{{app}}/{{token}}/messages/{{message}}", self._edit)
        app.router.add_post(f"{api}/users/@me/channels", self._open_dm)
        app.router.add_post(f"{api}/channels/{{channel}}/messages", self._channel_message)
        app.router.add_patch(f"{api}/channels/{{channel}}/messages/{{message}}",
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

    async def wait_identified(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` clients have identified on the gateway."""
        await self.until(lambda: len(self.identifies) >= count, timeout, "no IDENTIFY")

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
        their command picker shows there can be run."""
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

    async def settle(self, since: int, quiet: float = 0.2, timeout: float = 10.0, *,
                     answer_expected: bool = True) -> None:
        """Until the bot made a request after `since` (unless no answer is expected) and then
        stayed quiet for `quiet` s."""
        loop = asyncio.get_running_loop()
        began = loop.time()

        def done() -> bool:
            answered = len(self.requests) > since or not answer_expected
            return answered and loop.time() - max(self._last_request_at, began) >= quiet

        await self.until(done, timeout, "the bot did not answer")

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
        """Send a gateway event to every identified client whose intents include `intent`."""
        for socket, intents in list(self._sockets.items()):
            if socket.closed or intents < 0 or (intent and not intents & intent):
                continue
            payload = {"op": 0, "t": event, "s": next(self._sequence),
                       "d": self._as_seen_with(intents, data)}
            await socket.send_str(json.dumps(payload))

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
            self._last_request_at = asyncio.get_running_loop().time()
        return await handler(request)

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
        commands = await request.json()
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
        interaction = self.interactions[request.match_info["token"]]
        body = await request.json()
        interaction.callback = body
        interaction.acked_at = asyncio.get_running_loop().time()
        kind, data = body["type"], body.get("data") or {}
        resource: dict[str, Any] = {"type": kind}
        if kind == 4:  # a message in reply
            resource["message"] = self._post(interaction, data).message
        elif kind == 7 and interaction.message_id:  # the pressed message, updated
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

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self.interactions[request.match_info["token"]]
        await asyncio.sleep(self.slow_sends)
        return _json(self._post(interaction, await request.json()).message)

    async def _edit(self, request: web.Request) -> web.Response:
        interaction = self.interactions[request.match_info["token"]]
        target = request.match_info["message"]
        message_id = interaction.message_id if target == "@original" else int(target)
        if message_id is None or message_id not in self.sent:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return _json(self._apply_edit(message_id, await request.json()))

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
        await asyncio.sleep(self.slow_sends)
        message = self._message(channel_id, body.get("content") or "", author=BOT_USER, extra=body)
        self.sent[int(message["id"])] = Sent(message, owner, body)
        return _json(message)

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        message_id = int(request.match_info["message"])
        sent = self.sent.get(message_id)
        if sent is None or sent.channel_id != int(request.match_info["channel"]):
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return _json(self._apply_edit(message_id, await request.json()))

    async def _unknown(self, request: web.Request) -> web.Response:
        self.unknown_routes.append((request.method, request.path))
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    # -- gateway --------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets[socket] = -1  # not identified yet: no events
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                break
            await self._on_gateway_frame(socket, json.loads(frame.data))
        del self._sockets[socket]
        return socket

    async def _on_gateway_frame(self, socket: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        if frame["op"] == 1:  # heartbeat
            await socket.send_str(json.dumps({"op": 11}))
        elif frame["op"] == 2:  # identify
            if frame["d"]["token"] != self.token:
                await socket.close(code=4004, message=b"Authentication failed.")
                return
            self.identifies.append(frame["d"])
            self._sockets[socket] = int(frame["d"]["intents"])
            ready = {
                "v": 10,
                "user": BOT_USER,
                "guilds": [],
                "session_id": f"session-{len(self.identifies)}",
                "resume_gateway_url": self.url.replace("http://", "ws://") + "/gateway",
                "application": {"id": str(APP_ID), "flags": 0},
            }
            payload = {"op": 0, "t": "READY", "s": next(self._sequence), "d": ready}
            await socket.send_str(json.dumps(payload))

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
        sent = Sent(message, interaction.user_id if private else None)
        self.sent[sent.id] = sent
        return sent

    def _apply_edit(self, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
        self.edits.append((message_id, body))
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
