"""How a message waiting in the outbox reaches a person on Discord: `Delivery.deliver`.

Every reply of a turn is saved in the outbox with the turn and sent from there (bot/engine/
outbox.py), so Discord's 429s, 5xx and timeouts delay a reply but never lose it. Where it goes:

- **The person's DMs**, by default: the screening lives there, it stays after a reload, and it
  is the only private place where they can type. Check-ins, staff replies and every retry that
  outlives an interaction go there.
- **The follow-up webhook of the interaction that caused the turn**, while its token is valid
  (15 minutes), when that is where the answer belongs: a command or press in the DM (the
  first follow-up fills the "thinking" message of a deferred slash command, which would
  otherwise spin until the token ends), an info command in a server or a press on a private
  reply there (answered privately where asked).
- **An ephemeral follow-up in the server**, when Discord refuses the DM (the person's privacy
  settings): through the person's latest acknowledged interaction in a server whose token is
  still valid, the only private way left to reach them. It need not be the turn's own: a
  press Discord never let the bot acknowledge is answered through the one before.

Why the turn's interaction is remembered by the outbox ids of its messages, not by person: the
route belongs to the answer of that interaction alone. A check-in or a staff reply queued for
the same person meanwhile goes to their DMs (an ephemeral reply only when the DMs are closed).
The memory is this process's and lasts as long as the tokens; a message sent by another
process or after that goes to the DMs, and a person with closed DMs gets it no more (dropped
for good).

A long message goes in parts; when a part fails, the parts already sent are remembered (in this
process) and not sent again with the retry, so the person never reads a part twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import discord

from bot.channels.discord.render import Part, reply_parts, with_view
from bot.core.effects import RATE_LIMITED, TIMED_OUT, Address, DeliveryFailed, failure_kind
from bot.core.events import Reply

TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction's token takes follow-ups
TOKEN_MARGIN = 30.0  # a follow-up is not started this close to the token's end
SEND_ERRORS = (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError)
TOKEN_GONE = (401, 404)  # Invalid Webhook Token, Unknown Webhook: never acknowledged, expired


@dataclass(frozen=True, slots=True)
class Route:
    """Where the messages of one interaction's turn go: `dm_first` (a flow opened in a server:
    the DMs, and only if they are closed the ephemeral follow-up) or else the follow-up."""

    interaction: discord.Interaction
    dm_first: bool
    until: float

    @property
    def acknowledged(self) -> bool:
        """Deferred: its token takes follow-ups (else Discord answers Unknown Webhook)."""
        return self.interaction.response.is_done()

    @property
    def ephemeral(self) -> bool:
        """In a server only the person may see it; in a DM nothing is public anyway."""
        return self.interaction.guild_id is not None


class Routes:
    """The interactions whose turns' messages are still waiting, by outbox id, while their
    tokens last; each person's latest acknowledged interaction in a server; the people whose
    DMs Discord refused meanwhile; and how many parts of a message in parts went before one
    failed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._by_outgoing: dict[int, Route] = {}
        self._closed_dms: dict[str, float] = {}  # user id -> until
        self._in_server: dict[str, Route] = {}  # user id -> latest acknowledged there
        self._first_in_dm: dict[int, tuple[str, float]] = {}  # interaction id -> link, until
        self.parts_sent: dict[int, int] = {}  # outbox id -> parts sent, while it is retried

    def answer(self, interaction: discord.Interaction, queued: tuple[int, ...], *,
               dm_first: bool = False) -> None:
        """The turn's messages (`queued`) answer `interaction`."""
        self._forget_ended()
        route = Route(interaction, dm_first, self.clock() + TOKEN_LIFETIME - TOKEN_MARGIN)
        for outgoing_id in queued:
            self._by_outgoing[outgoing_id] = route
        if route.ephemeral and route.acknowledged:
            self._in_server[str(interaction.user.id)] = route

    def in_server(self, user_id: str) -> Route | None:
        """The person's latest acknowledged interaction in a server, while its token lasts."""
        route = self._in_server.get(user_id)
        return route if route is not None and route.until > self.clock() else None

    def of(self, reply: Reply) -> Route | None:
        """The route of the reply's message, while its token lasts."""
        route = next((self._by_outgoing.get(i) for i in reply.queued), None)
        return route if route is not None and route.until > self.clock() else None

    def sent(self, reply: Reply, route: Route | None, in_dm: discord.Message | None) -> None:
        """The reply's message went out (`in_dm`: the first part, when it went to the DMs)."""
        self.done(reply)
        if route is not None and in_dm is not None:
            self._first_in_dm.setdefault(route.interaction.id, (in_dm.jump_url, route.until))

    def done(self, reply: Reply) -> None:
        """Nothing more to remember about the reply's message: sent, or dropped."""
        for outgoing_id in reply.queued:
            self._by_outgoing.pop(outgoing_id, None)
            self.parts_sent.pop(outgoing_id, None)

    def first_in_dm(self, interaction: discord.Interaction) -> str | None:
        """A link to the first message the interaction's turn put in the person's DMs."""
        link, until = self._first_in_dm.get(interaction.id, ("", 0.0))
        return link if until > self.clock() else None

    def dms_closed(self, user_id: str) -> bool:
        return self._closed_dms.get(user_id, 0.0) > self.clock()

    def close_dms(self, user_id: str) -> None:
        self._closed_dms[user_id] = self.clock() + TOKEN_LIFETIME

    def _forget_ended(self) -> None:
        now = self.clock()
        for outgoing_id, route in list(self._by_outgoing.items()):
            if route.until <= now:
                del self._by_outgoing[outgoing_id]
        for user_id, until in list(self._closed_dms.items()):
            if until <= now:
                del self._closed_dms[user_id]
        for user_id, route in list(self._in_server.items()):
            if route.until <= now:
                del self._in_server[user_id]
        for interaction_id, (_, until) in list(self._first_in_dm.items()):
            if until <= now:
                del self._first_in_dm[interaction_id]


class Delivery:
    """Sends one outbox message to a person on Discord, by the route of its turn."""

    def __init__(self, client: discord.Client, routes: Routes) -> None:
        self.client = client
        self.routes = routes

    async def deliver(self, address: Address, reply: Reply) -> None:
        """Raises DeliveryFailed: for good when Discord refuses (DMs closed and no interaction
        to answer through, user gone), with `retry_after` on a 429, to retry otherwise."""
        if not address.user_id.isascii() or not address.user_id.isdigit():
            raise DeliveryFailed("not a Discord user id", permanent=True)
        route = self.routes.of(reply)
        try:
            in_dm = await self._send(address.user_id, route, reply)
        except DeliveryFailed:
            self.routes.done(reply)
            raise
        except SEND_ERRORS as error:
            failed = failure(error)
            if failed.permanent:
                self.routes.done(reply)
            raise failed from None
        self.routes.sent(reply, route, in_dm)

    async def _send(self, user_id: str, route: Route | None,
                    reply: Reply) -> discord.Message | None:
        """Send by the route; the first message sent, when it went to the DMs."""
        if route is not None and not route.dm_first and route.acknowledged:
            try:
                await self._follow_up(route, reply)
                return None
            except discord.HTTPException as error:
                if error.status not in TOKEN_GONE:
                    raise
                # expired: the DMs are where it still reaches them
        if not self.routes.dms_closed(user_id):
            try:
                return await self._to_dm(user_id, reply)
            except discord.Forbidden:
                if self.routes.in_server(user_id) is None:
                    raise
                self.routes.close_dms(user_id)
        in_server = self.routes.in_server(user_id)
        if in_server is None:
            raise DeliveryFailed("DMs closed, no interaction to answer through", permanent=True)
        await self._follow_up(in_server, reply)
        return None

    async def _to_dm(self, user_id: str, reply: Reply) -> discord.Message | None:
        dm = await self.client.create_dm(discord.Object(id=int(user_id)))
        first: discord.Message | None = None
        for content, view in self._parts_to_send(reply):
            sent = await dm.send(content, **with_view(view))
            self._part_sent(reply)
            first = first or sent
        return first

    async def _follow_up(self, route: Route, reply: Reply) -> None:
        for content, view in self._parts_to_send(reply):
            await route.interaction.followup.send(content, ephemeral=route.ephemeral,
                                                  **with_view(view))
            self._part_sent(reply)

    def _parts_to_send(self, reply: Reply) -> list[Part]:
        """The reply's parts, but those sent before a part failed last time."""
        done = next((self.routes.parts_sent.get(i, 0) for i in reply.queued), 0)
        return reply_parts(reply)[done:]

    def _part_sent(self, reply: Reply) -> None:
        for outgoing_id in reply.queued:
            self.routes.parts_sent[outgoing_id] = self.routes.parts_sent.get(outgoing_id, 0) + 1


def failure(error: BaseException) -> DeliveryFailed:
    """What a send's error means for the outbox: its type and status only, never the text."""
    why = f"{type(error).__name__} {getattr(error, 'status', '')}".strip()
    if isinstance(error, discord.RateLimited):  # longer than the client waits by itself
        return DeliveryFailed(why, retry_after=error.retry_after)
    if isinstance(error, (discord.Forbidden, discord.NotFound)):
        return DeliveryFailed(why, permanent=True)
    if isinstance(error, discord.HTTPException) and error.status == 429:
        return DeliveryFailed(why, retry_after=_retry_after(error), kind=RATE_LIMITED)
    if isinstance(error, discord.HTTPException) and error.status < 500:
        return DeliveryFailed(why, permanent=True)  # refused as asked: the same again would be
    if isinstance(error, discord.HTTPException):
        return DeliveryFailed(why, kind=failure_kind(error.status))
    return DeliveryFailed(why, kind=TIMED_OUT if isinstance(error, TimeoutError) else "")


def _retry_after(error: discord.HTTPException) -> float | None:
    headers = getattr(error.response, "headers", None) or {}
    try:
        return float(headers.get("Retry-After", ""))
    except ValueError:
        return None
