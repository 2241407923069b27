"""The bot's one web server: every HTTP route mounts on this aiohttp app.

Health, the click-counting `/go/<link>` redirect, and whatever the channels add with their
`mount(app)` (the Telegram webhook; the web chat's page, assets and API under `/chat`).

It is built to face the internet: a connection must send its request headers within
`HEADER_TIMEOUT` and its body within `BODY_TIMEOUT`, idle connections close after
`IDLE_TIMEOUT`, at most `MAX_CONNECTIONS` are open at once and `MAX_PER_ADDRESS` from one
address (so one address cannot take every connection from everyone else), and the `Server`
header names no software version.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.admin import add_admin
from bot.handoff.booking_webhooks import add_booking_webhooks
from bot.handoff.redirect import add_redirects
from bot.turns.metrics import StoreSnapshot
from bot.turns.runner import TurnRunner

HEADER_TIMEOUT = 10.0  # seconds for a new connection to send its first request's headers
BODY_TIMEOUT = 15.0  # seconds for a request's body (a webhook update is a few kilobytes)
IDLE_TIMEOUT = 15.0  # seconds an idle keep-alive connection stays open
MAX_CONNECTIONS = 200  # open connections at once; more are refused until some close
# Open connections from one address: a browser opens about six, a clinic's router shares one
# address among a few people; behind a reverse proxy every connection is the proxy's, so
# `serve` is given no per-address cap there (the proxy holds its own).
MAX_PER_ADDRESS = 40
MAX_BODY = 1024**2  # bytes
SERVER_NAME = "pt-screening-bot"
READY_TIMEOUT = 2.0  # seconds the database has to answer a readiness probe
ENGINE = web.AppKey("engine", TurnRunner)
READY = web.AppKey("ready", dict)  # {"ready": bool}: set by the runner once all is started
_HEADERS_END = (b"\r\n\r\n", b"\n\n")

log = logging.getLogger(__name__)


def create_app(engine: TurnRunner) -> web.Application:
    """The application with `GET /healthz`, `GET /readyz`, `GET /metrics` (with its token),
    `GET /go/<link>` and the booking
    providers' `POST /webhooks/calendly` and `/webhooks/cal.com`; channels add their routes."""
    app = web.Application(middlewares=[body_in_time], client_max_size=MAX_BODY)
    app.on_response_prepare.append(name_no_version)
    app[ENGINE] = engine
    app[READY] = {"ready": False}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    add_redirects(app, engine)
    add_booking_webhooks(app, engine)
    add_admin(app, engine, engine.settings)  # the practice's dashboard at /admin
    return app


async def healthz(request: web.Request) -> web.Response:
    """Liveness for load balancers and orchestrators: the process answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: every channel started and the database answers; 503 otherwise (starting,
    stopping, database unreachable), so a load balancer sends updates elsewhere."""
    if not request.app[READY]["ready"]:
        return web.json_response({"status": "not ready"}, status=503)
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await request.app[ENGINE].store.ping()
    except Exception as error:
        log.warning("readiness: the database did not answer: %s", type(error).__name__)
        return web.json_response({"status": "database unreachable"}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus series (bot/turns/metrics.py), for a scraper that sends
    `Authorization: Bearer <metrics_token>`; 404 while no token is set (off), 401 without
    the right one."""
    engine = request.app[ENGINE]
    token = engine.settings.metrics_token
    if token is None:
        raise web.HTTPNotFound()
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    # A header may hold text that is not ASCII (kept as surrogates): never the token.
    if scheme.lower() != "bearer" or not offered.isascii() or not hmac.compare_digest(
            offered.strip().encode(), token.get_secret_value().encode()):
        log.warning("metrics scrape without the right token from %s", request.remote)
        return web.Response(status=401, text="the metrics token is needed",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            snapshot = await engine.store_snapshot()
    except Exception as error:  # the counters still count: the backlog's series are left out
        log.warning("metrics: the database did not answer: %s", type(error).__name__)
        snapshot = StoreSnapshot(engine.clock())
    body, content_type = engine.metrics.exposition(snapshot, request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})


@web.middleware
async def body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read a request's body before its handler runs, and give up on one that trickles in."""
    if request.can_read_body:
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                await request.read()  # kept by aiohttp: the handler's read() or json() reuses it
        except TimeoutError:
            raise web.HTTPRequestTimeout(text="request body too slow") from None
    return await handler(request)


async def name_no_version(request: web.Request, response: web.StreamResponse) -> None:
    """`Server: pt-screening-bot`, never the aiohttp and Python versions."""
    response.headers["Server"] = SERVER_NAME


async def serve(
    app: web.Application,
    host: str,
    port: int,
    max_connections: int = MAX_CONNECTIONS,
    header_timeout: float = HEADER_TIMEOUT,
    max_per_address: int | None = MAX_PER_ADDRESS,
) -> web.AppRunner:
    """Start listening; the caller ends it with `await runner.cleanup()`. `max_per_address`
    None: no cap per address (behind a reverse proxy, where every connection is its)."""
    runner = web.AppRunner(app, access_log=None,  # URLs may one day carry personal details
                           keepalive_timeout=IDLE_TIMEOUT)
    await runner.setup()
    await GuardedSite(runner, host, port, max_connections, header_timeout,
                      max_per_address).start()
    return runner


class GuardedSite(web.BaseSite):
    """A TCP site whose connections are counted and capped, and cut off when they are slow to
    send their first request's headers; aiohttp's own handler serves each one."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, max_connections: int,
                 header_timeout: float, max_per_address: int | None = None) -> None:
        super().__init__(runner)
        self.host, self.port = host, port
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.header_timeout = header_timeout
        self.open = 0
        self.by_address: dict[str, int] = {}  # open connections per peer address

    def take(self, address: str) -> bool:
        """Count a new connection from `address`; False (not counted) over either cap."""
        mine = self.by_address.get(address, 0)
        if self.open >= self.max_connections or (
                self.max_per_address is not None and mine >= self.max_per_address):
            return False
        self.open += 1
        self.by_address[address] = mine + 1
        return True

    def release(self, address: str) -> None:
        self.open -= 1
        left = self.by_address.pop(address) - 1
        if left:
            self.by_address[address] = left

    @property
    def name(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self.port, reuse_address=True
        )

    def handler(self) -> asyncio.Protocol:
        """A new aiohttp request handler (the runner's server is its protocol factory)."""
        server = self._runner.server
        assert server is not None, "the runner is set up before the site starts"
        return server()


class _Connection(asyncio.Protocol):
    """One connection: refused over the cap, closed if its first headers are late; everything
    else is passed to aiohttp's request handler."""

    def __init__(self, site: GuardedSite) -> None:
        self.site = site
        self.inner: Any = None  # aiohttp's RequestHandler, once the connection is taken
        self.deadline: asyncio.TimerHandle | None = None
        self.tail = b""
        self.transport: asyncio.Transport | None = None
        self.address = ""

    def connection_made(self, transport: Any) -> None:
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else ""
        if not self.site.take(self.address):
            transport.abort()  # refused: connection_lost follows with nothing to release
            return
        self.transport = transport
        self.deadline = asyncio.get_running_loop().call_later(
            self.site.header_timeout, self._too_slow
        )
        self.inner = self.site.handler()
        self.inner.connection_made(transport)

    def _too_slow(self) -> None:
        self.deadline = None
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.deadline is not None:
            seen = self.tail + data
            if any(end in seen for end in _HEADERS_END):
                self.deadline.cancel()
                self.deadline = None
            self.tail = seen[-3:]
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        if self.inner is None:
            return
        self.site.release(self.address)
        self.transport = None
        self.inner.connection_lost(exc)
