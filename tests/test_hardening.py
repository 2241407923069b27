"""What an attacker on the internet can send the bot's one web server (issue 29), over real
sockets on 127.0.0.1: bytes no client library would send, and what each must get back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from aiohttp import web

from bot.admin.accounts import Limits, Outcome, Passwords, SignIn
from bot.app import build_engine
from bot.channels.telegram.webhook import Webhook
from bot.channels.web import WebChannel
from bot.core.events import Event, EventKind
from bot.server import GuardedSite, create_app, serve
from bot.settings import SecretStr
from bot.store.sql import PERSON_TABLES
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.conftest import wired
from tests.harness.passwords import TEST_COST

BOOKING_SECRET = "k3J9-mQ2_vX7pL4wZr8-booking"
WEBHOOK_SECRET = "k3J9-mQ2_vX7pL4wZr8-telegram"


@dataclass
class Site:
    """The bot's server with the web chat, the Telegram webhook and the booking webhooks."""

    host: str
    port: int
    engine: TurnRunner

    async def raw(self, request: bytes) -> tuple[int, bytes]:
        """Send bytes as they are; (status, body) of the answer."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(request)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body

    async def get(self, path: bytes, *headers: bytes) -> tuple[int, bytes]:
        lines = [b"GET " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close",
                 *headers]
        return await self.raw(b"\r\n".join(lines) + b"\r\n\r\n")

    async def post(self, path: bytes, body: bytes, *headers: bytes) -> tuple[int, bytes]:
        lines = [b"POST " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close",
                 b"Content-Type: application/json", b"Content-Length: %d" % len(body),
                 b"Origin: https://bot.practice.test", *headers]
        return await self.raw(b"\r\n".join(lines) + b"\r\n\r\n" + body)


@pytest.fixture
async def site(engine: TurnRunner) -> AsyncIterator[Site]:
    engine.settings = replace(engine.settings, booking_webhook_secret=SecretStr(BOOKING_SECRET),
                              telegram_webhook_secret=SecretStr(WEBHOOK_SECRET),
                              public_url="https://bot.practice.test")
    engine = wired(engine, pulled=("web",))  # its links built on these settings
    app = create_app(engine)
    WebChannel(engine, engine.settings).mount(app)
    Webhook(engine.settings).mount(app)
    runner = await serve(app, "127.0.0.1", 0)
    yield Site("127.0.0.1", runner.addresses[0][1], engine)
    await runner.cleanup()


# -- finding 6: unauthenticated requests never reach a 500 or a traceback ---------------------

NOT_ASCII = "é".encode()  # UTF-8, and a lone byte that is not UTF-8 at all
BAD_BYTES = (NOT_ASCII, b"\xff\xfe")


@pytest.mark.parametrize("odd", BAD_BYTES, ids=("utf8", "not-utf8"))
async def test_a_dashboard_cookie_with_odd_bytes_is_sent_to_sign_in(site, odd):
    status, _ = await site.get(b"/admin/leads", b"Cookie: bot_admin_session=abc" + odd)
    assert status in (302, 303, 403), status


@pytest.mark.parametrize("odd", BAD_BYTES, ids=("utf8", "not-utf8"))
async def test_a_link_token_with_odd_bytes_still_redirects(site, odd):
    escaped = "".join(f"%{byte:02X}" for byte in odd).encode()
    status, _ = await site.get(b"/go/youtube?channel=telegram&t=abc." + escaped)
    assert status == 302


@pytest.mark.parametrize("odd", BAD_BYTES, ids=("utf8", "not-utf8"))
@pytest.mark.parametrize(("path", "header"), [
    (b"/webhooks/calendly", b"Calendly-Webhook-Signature: t=1800000000,v1=ab"),
    (b"/webhooks/cal.com", b"X-Cal-Signature-256: ab"),
    (b"/telegram", b"X-Telegram-Bot-Api-Secret-Token: ab"),
], ids=("calendly", "calcom", "telegram"))
async def test_a_webhook_signature_with_odd_bytes_is_refused(site, odd, path, header):
    status, body = await site.post(path, b"{}", header + odd)
    assert status in (401, 403), (status, body)


@pytest.mark.parametrize("depth", [500, 20_000])
async def test_a_deeply_nested_chat_body_is_refused_as_not_json(site, depth):
    body = b"[" * depth + b"]" * depth
    status, answer = await site.post(b"/chat/api/turn", body)
    assert status == 400, (status, answer)
    assert b"Traceback" not in answer


# -- finding 7: /go/book passes on only the bot's own prefill and reference -------------------

async def booking_button(engine: TurnRunner) -> str:
    """The booking button Alex is shown (through the redirect), as its path and query."""
    person = DialogClient(engine, "alex", channel="telegram")
    await person.send("/start")
    reply = await person.send("book")
    (link,) = reply.messages[0].links
    assert link.url.startswith("https://bot.practice.test/go/book?")
    return link.url.removeprefix("https://bot.practice.test")


def redirected_to(head: bytes) -> dict[str, str]:
    location = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"location:"))
    return dict(parse_qsl(urlsplit(location.split(b":", 1)[1].strip().decode()).query))


async def location(site: Site, path: str) -> dict[str, str]:
    reader, writer = await asyncio.open_connection(site.host, site.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head = (await asyncio.wait_for(reader.read(), 10)).partition(b"\r\n\r\n")[0]
    writer.close()
    assert b" 302 " in head.split(b"\r\n")[0], head
    return redirected_to(head)


async def test_the_bots_own_booking_link_carries_its_prefill_and_reference(site):
    path = await booking_button(site.engine)
    query = await location(site, path)
    conversation = await site.engine.store.load("telegram", "alex")
    assert query["utm_content"] == conversation.booking_ref
    assert query.get("a1")  # the practice's short prefill line


PHISHING = "URGENT: your card was declined, pay at https://evil.test/pay"


@pytest.mark.parametrize("tampered", ["summary", "ref", "both", "unsigned"])
async def test_a_stranger_cannot_prefill_the_booking_page_or_credit_a_reference(site, tampered):
    own = dict(parse_qsl(urlsplit(await booking_button(site.engine)).query))
    if tampered in ("summary", "both"):
        own["summary"] = PHISHING
    if tampered in ("ref", "both"):
        own["ref"] = "someone-elses-ref-1234"
    if tampered == "unsigned":
        own = {"channel": "telegram", "summary": PHISHING, "ref": "someone-elses-ref-1234"}
    query = await location(site, "/go/book?" + urlencode(own))
    assert "a1" not in query and "utm_content" not in query, query
    assert query["utm_source"] == "telegram"  # still the practice's booking page


# -- finding 2: one address cannot take every connection ------------------------------------

async def held_connections(port: int, count: int) -> list[tuple[asyncio.StreamReader,
                                                                 asyncio.StreamWriter]]:
    held = []
    for _ in range(count):
        held.append(await asyncio.open_connection("127.0.0.1", port))
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.1)
    return held


def refused(held) -> list[bool]:
    return [reader.at_eof() or reader.exception() is not None for reader, _ in held]


async def answered(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot.test\r\n\r\n")
    return (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 200")


async def test_one_address_holds_at_most_its_share_of_connections(engine):
    runner = await serve(create_app(engine), "127.0.0.1", 0, max_connections=20,
                         header_timeout=30, max_per_address=5)
    port = runner.addresses[0][1]
    held = await held_connections(port, 7)
    assert refused(held) == [False] * 5 + [True] * 2  # below and at the cap taken, above not
    assert all([await answered(*pair) for pair in held[:5]])
    held[0][1].close()  # one closes: the address is below its cap again
    await asyncio.sleep(0.1)
    (again,) = await held_connections(port, 1)
    assert refused([again]) == [False] and await answered(*again)
    for _, writer in [*held, again]:
        writer.close()
    await runner.cleanup()


def test_each_address_has_its_own_share_and_all_share_the_cap():
    site = GuardedSite.__new__(GuardedSite)  # the counting alone, no socket
    site.max_connections, site.max_per_address, site.open, site.by_address = 6, 3, 0, {}
    assert [site.take("198.51.100.7") for _ in range(4)] == [True, True, True, False]
    assert [site.take("203.0.113.9") for _ in range(3)] == [True, True, True]
    assert not site.take("192.0.2.1")  # the server-wide cap: 6 open
    site.release("198.51.100.7")
    assert site.take("192.0.2.1") and site.by_address == {
        "198.51.100.7": 2, "203.0.113.9": 3, "192.0.2.1": 1}


# -- finding 3: opening the chat is free and keeps nothing; new conversations are limited ----

def table_rows(engine: TurnRunner) -> dict[str, int]:
    """Rows of every table that holds something about a person."""
    with sqlite3.connect(engine.store.path) as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in PERSON_TABLES}


async def chat_site(engine: TurnRunner, **web_chat: object) -> tuple[Site, web.AppRunner]:
    settings = replace(engine.settings, public_url="https://bot.practice.test",
                       web_chat=replace(engine.settings.web_chat, **web_chat))
    engine = build_engine(settings, engine.store, engine.clock)
    app = create_app(engine)
    WebChannel(engine, settings).mount(app)
    runner = await serve(app, "127.0.0.1", 0)
    return Site("127.0.0.1", runner.addresses[0][1], engine), runner


async def chat(site: Site, session: str, **body: object) -> tuple[int, dict]:
    payload = json.dumps({"session": session, "message_id": uuid.uuid4().hex, **body}).encode()
    status, answer = await site.post(b"/chat/api/turn", payload)
    return status, json.loads(answer)


def session_of(number: int) -> str:
    return f"anonymous-browser-{number:06d}-abcdefgh"


async def test_opening_the_chat_keeps_nothing_until_the_first_answer(engine):
    site, runner = await chat_site(engine)
    empty = table_rows(site.engine)
    status, opening = await chat(site, session_of(1), text="/start")
    assert status == 200 and opening["messages"] and opening["state"] == "welcome"
    assert table_rows(site.engine) == empty  # shown, kept nowhere
    status, answer = await chat(site, session_of(1), choice="begin", turn=opening["turn"])
    assert status == 200 and answer["state"] == "who", answer  # applied to the question seen
    assert table_rows(site.engine)["conversations"] == 1
    await runner.cleanup()


@pytest.mark.parametrize("burst", [1, 3])
async def test_one_address_starts_only_so_many_conversations(engine, burst):
    site, runner = await chat_site(engine, new_per_address_burst=burst,
                                   new_per_address_per_minute=0.001)
    statuses = []
    for number in range(burst + 2):
        await chat(site, session_of(number), text="/start")  # openings are never refused
        statuses.append((await chat(site, session_of(number), choice="begin", turn=1))[0])
    assert statuses == [200] * burst + [429] * 2  # below and at the limit taken, above not
    assert table_rows(site.engine)["conversations"] == burst
    await runner.cleanup()


async def test_all_addresses_together_start_only_so_many_conversations(engine):
    site, runner = await chat_site(engine, new_per_minute=2.0)
    statuses = [(await chat(site, session_of(number), choice="begin", turn=1))[0]
                for number in range(4)]
    assert statuses == [200, 200, 429, 429]
    await runner.cleanup()


async def test_a_conversation_never_answered_goes_after_a_day(engine):
    now = [1_800_000_000.0]
    engine.clock = lambda: now[0]
    await DialogClient(engine, "left-at-hello", channel="telegram").send("/start")
    answered = DialogClient(engine, "answered-once", channel="telegram")
    await answered.send("/start")
    await answered.send("begin")
    await answered.send("me")
    now[0] += 24 * 3600 - 1  # a second before the day is out: both kept
    assert (await engine.purge_expired())["unanswered conversations"] == 0
    now[0] += 2
    assert (await engine.purge_expired())["unanswered conversations"] == 1
    assert await engine.store.load("telegram", "left-at-hello") is None
    assert await engine.store.load("telegram", "answered-once") is not None


# -- finding 8: sign-in failure keys cannot be reversed by hashing guesses ------------------

async def test_failed_sign_in_keys_are_keyed_so_no_address_or_email_can_be_recovered(engine):
    sign_in = SignIn(engine.store, Limits(5, 20, 900.0), Passwords(TEST_COST),
                     salt=b"k" * 32)
    outcome = await sign_in.attempt("Pat@Practice.example", "wrong", "203.0.113.9", 1000.0)
    assert outcome is Outcome.REFUSED
    with sqlite3.connect(engine.store.path) as db:
        keys = {row[0] for row in db.execute("SELECT key FROM sign_in_failures")}
    plain = {hashlib.sha256(value.encode()).hexdigest()
             for value in ("pat@practice.example", "203.0.113.9")}
    assert len(keys) == 2 and not {key.partition(":")[2] for key in keys} & plain
    other = SignIn(engine.store, Limits(5, 20, 900.0), Passwords(TEST_COST), salt=b"j" * 32)
    await other.attempt("pat@practice.example", "wrong", "203.0.113.9", 1000.0)
    with sqlite3.connect(engine.store.path) as db:  # another key, other counters
        assert db.execute("SELECT count(*) FROM sign_in_failures").fetchone()[0] == 4


# -- finding 5: a forget leaves no row behind, not even its own update ----------------------

async def test_forget_leaves_no_update_row_with_the_platform_id(engine):
    person = DialogClient(engine, "424242", channel="telegram")
    await person.send("/start")
    await engine.handle(replace(Event.from_text("telegram", "424242", "/forget"),
                                update_id="upd-1"))
    await engine.handle(Event("telegram", "424242", EventKind.TEXT, text="yes",
                              update_id="upd-2"))
    with sqlite3.connect(engine.store.path) as db:
        left = {table: db.execute(f"SELECT count(*) FROM {table} WHERE user_id = ?",
                                  ("424242",)).fetchone()[0] for table in PERSON_TABLES}
    assert left == dict.fromkeys(PERSON_TABLES, 0), left


# -- finding 1: a withdraw removes every copy of the contact details ------------------------

async def test_withdraw_leaves_no_stored_reply_with_the_name_or_email(engine):
    said = iter(range(100))

    async def say(text: str) -> None:
        await engine.handle(replace(Event.from_text("telegram", "515151", text),
                                    update_id=f"upd-{next(said)}"))

    for text in ("/contact", "yes", "Pat Example", "pat.example@example.org"):
        await say(text)
    with sqlite3.connect(engine.store.path) as db:
        replies = " ".join(r[0] for r in db.execute("SELECT reply FROM updates"))
    assert "pat.example@example.org" in replies or "Pat" in replies  # kept for retries
    await say("/withdraw")
    with sqlite3.connect(engine.store.path) as db:
        replies = " ".join(r[0] for r in db.execute("SELECT reply FROM updates"))
    assert "pat.example@example.org" not in replies and "Pat Example" not in replies
    assert "Pat" not in replies


async def test_declining_consent_leaves_no_stored_reply_with_the_name_or_email(engine):
    said = iter(range(100))

    async def say(text: str) -> None:
        await engine.handle(replace(Event.from_text("telegram", "616161", text),
                                    update_id=f"upd-{next(said)}"))

    for text in ("/contact", "Pat Example", "pat.example@example.org", "no"):
        await say(text)
    with sqlite3.connect(engine.store.path) as db:
        replies = " ".join(r[0] for r in db.execute("SELECT reply FROM updates"))
    assert "pat.example@example.org" not in replies and "Pat" not in replies
