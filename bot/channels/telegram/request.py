"""The Bot API transport on aiohttp: python-telegram-bot's `BaseRequest`, as its own
`HTTPXRequest` behaves, for polling and for sending.

python-telegram-bot's default transport spends most of a busy bot's CPU in httpx and httpcore
(whose pool hands out connections in time that grows with the requests waiting). This one keeps
the library's semantics:

- timeouts, as `HTTPXRequest` reads them: `pool` is the wait for one of `connection_pool_size`
  connections (the request is not sent when it runs out), `connect` the time to open one,
  `write` the time to send the request body (`media_write_timeout` for uploads; a JSON body
  small enough to be handed to the socket at once cannot wait, so it has no timer), `read` the
  wait for each part of the answer; each may be given per call, None waits for ever;
- a call as a JSON object (the Bot API takes JSON, and it costs a tenth of the form encoding
  httpx does); an upload as multipart/form-data, the other fields beside the files;
- a proxy given, or else one from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (http:// or https://
  proxies; aiohttp speaks no SOCKS), as httpx reads the environment;
- errors: every answer is returned as (status, body), so `BaseRequest` maps it (RetryAfter with
  its retry_after, Forbidden, BadRequest, InvalidToken, ChatMigrated, Conflict, NetworkError);
  a timeout is TimedOut, any other transport failure NetworkError, never with the token;
- `shutdown` closes the session and its connections; `initialize` opens a new one.
"""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import hdrs
from aiohttp.abc import AbstractStreamWriter
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

from bot.core import jsontext

POOL_TIMEOUT_MESSAGE = (  # python-telegram-bot's own words for it
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent "
    "to Telegram. Consider adjusting the connection pool size or the pool timeout."
)
JSON = "application/json"
# A body this size or smaller is handed to the socket without waiting (aiohttp waits for the
# socket to drain only past 64 KiB), so it needs no write timeout and is spared the timer.
UNBLOCKED_WRITE = 0x10000 - 4096  # less room for the headers written with it
KEEPALIVE = 5.0  # seconds an idle connection is kept open, as httpx does
PROXY_SCHEMES = ("http", "https")
# A timeout a call did not give (python-telegram-bot's DEFAULT_NONE): this transport's is used.
NotGiven = type(BaseRequest.DEFAULT_NONE)
Timeout = float | None | NotGiven


class AiohttpRequest(BaseRequest):
    """python-telegram-bot's transport on aiohttp, with `HTTPXRequest`'s arguments and
    defaults (the ones aiohttp has: no HTTP/2, no socket options)."""

    __slots__ = (
        "_connect_timeout", "_media_write_timeout", "_pool", "_pool_size", "_pool_timeout",
        "_proxy", "_read_timeout", "_session", "_targets", "_timeouts", "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        proxy: str | None = None,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if proxy and urlsplit(proxy).scheme not in PROXY_SCHEMES:
            raise ValueError("the Telegram proxy must be an http:// or https:// address")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._session: aiohttp.ClientSession | None = None
        self._pool: asyncio.Semaphore | None = None
        # Per-call values repeat (a few methods, a few timeouts): parsed and built once.
        self._targets: dict[str, tuple[URL, str | None]] = {}
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call gives none (getUpdates adds its long-poll wait)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (inside the running loop, as aiohttp wants)."""
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=KEEPALIVE)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={hdrs.USER_AGENT: self.USER_AGENT},
            trust_env=False,  # the environment's proxy is read by _target
        )
        self._pool = asyncio.Semaphore(self._pool_size)

    async def shutdown(self) -> None:
        """Close the session and every connection it holds; a second call does nothing."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Timeout = BaseRequest.DEFAULT_NONE,
        write_timeout: Timeout = BaseRequest.DEFAULT_NONE,
        connect_timeout: Timeout = BaseRequest.DEFAULT_NONE,
        pool_timeout: Timeout = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One call: (HTTP status, body) of Telegram's answer, whatever the status."""
        session, pool = self._session, self._pool
        if session is None or pool is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = bool(request_data and request_data.contains_files)
        if isinstance(read_timeout, NotGiven):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, NotGiven):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, NotGiven):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, NotGiven):
            write_timeout = self._media_write_timeout if files else self._write_timeout

        body = body_of(request_data, write_timeout) if request_data is not None else None
        target, proxy = self._target(url)
        await self._take_connection(pool, pool_timeout)
        try:
            response = await session.request(
                method, target, data=body, proxy=proxy,
                timeout=self._timeout(connect_timeout, read_timeout),
            )
            async with response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's ServerTimeoutError is one too
            raise TimedOut from error
        except (aiohttp.ClientError, OSError) as error:
            reason = str(error).replace(url, _origin(url))  # its URL carries the token
            raise NetworkError(f"aiohttp.{type(error).__name__}: {reason}") from error
        finally:
            pool.release()

    async def _take_connection(self, pool: asyncio.Semaphore, timeout: float | None) -> None:
        """Wait at most `timeout` seconds for one of the pool's connections."""
        if not pool.locked():
            await pool.acquire()  # free: taken at once, without a timer
            return
        try:
            async with asyncio.timeout(timeout):
                await pool.acquire()
        except TimeoutError as error:
            raise TimedOut(POOL_TIMEOUT_MESSAGE) from error

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """Telegram's answer, read by orjson (the library's own reading is the fallback, for
        its handling of invalid UTF-8 and its error)."""
        try:
            return jsontext.loads(payload)  # type: ignore[no-any-return]
        except jsontext.JSONDecodeError:
            return BaseRequest.parse_json_payload(payload)

    def _target(self, url: str) -> tuple[URL, str | None]:
        """The address parsed, and the proxy to reach it through: the one given, else the
        environment's (read once per address, not by aiohttp on every call)."""
        target = self._targets.get(url)
        if target is None:
            target = self._targets[url] = (URL(url), self._proxy or environment_proxy(url))
        return target

    def _timeout(self, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
        """No total: a long poll or an upload may take long, each stage is bounded instead.
        `connect` covers the DNS look-up, TCP, TLS and any proxy (the pool wait is ours)."""
        timeout = self._timeouts.get((connect, read))
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read)
            self._timeouts[connect, read] = timeout
        return timeout


def environment_proxy(url: str) -> str | None:
    """HTTPS_PROXY / HTTP_PROXY / ALL_PROXY for this address, as httpx reads them; None when
    unset, bypassed by NO_PROXY, or not an http(s) proxy."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass_environment(parts.netloc, proxies):
        return None
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    return proxy if urlsplit(proxy).scheme in PROXY_SCHEMES else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class _WrittenWithin:
    """Mixin for a request body: sent within `write_timeout` seconds (aiohttp has no write
    timeout of its own; a TimeoutError here ends the request as TimedOut)."""

    write_timeout: float | None = None

    async def write(self, writer: AbstractStreamWriter, *args: Any) -> None:
        async with asyncio.timeout(self.write_timeout):
            await super().write(writer, *args)  # type: ignore[misc]

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:  # aiohttp 3.12 and later write bodies through this
        async with asyncio.timeout(self.write_timeout):
            await super().write_with_length(writer, content_length)  # type: ignore[misc]


class _Json(_WrittenWithin, aiohttp.BytesPayload):
    """The parameters of a call without files, as one JSON object."""


class _Multipart(_WrittenWithin, aiohttp.MultipartWriter):
    """The fields and files of an upload, as multipart/form-data."""


def body_of(request_data: RequestData, write_timeout: float | None) -> aiohttp.Payload:
    """The request body: JSON, or multipart with the files when there are any. Only a body
    that can wait for the socket is written within `write_timeout`."""
    body: _Json | _Multipart
    if not request_data.contains_files:
        # The parameters as the library made them fit for JSON (objects as dicts, dates as
        # timestamps), None left out.
        encoded = jsontext.dumps_bytes(request_data.parameters)
        if len(encoded) <= UNBLOCKED_WRITE:
            return aiohttp.BytesPayload(encoded, content_type=JSON)
        body = _Json(encoded, content_type=JSON)
    else:
        body = _Multipart("form-data")
        for name, value in request_data.json_parameters.items():
            body.append_payload(_field(aiohttp.StringPayload(value), name))
        for name, (filename, content, mimetype) in request_data.multipart_data.items():
            part = aiohttp.get_payload(content, content_type=mimetype)
            body.append_payload(_field(part, name, filename))
    body.write_timeout = write_timeout
    return body


def _field(part: aiohttp.Payload, name: str, filename: str | None = None) -> aiohttp.Payload:
    """A form-data part named `name` (with its file name, for a file)."""
    if filename is None:
        part.set_content_disposition("form-data", name=name)
    else:
        part.set_content_disposition("form-data", name=name, filename=filename)
    part.headers.popall(hdrs.CONTENT_LENGTH, None)  # as aiohttp's FormData leaves it out
    return part
