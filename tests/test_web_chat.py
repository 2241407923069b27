"""The web chat's HTTP API, against the bot's real server on 127.0.0.1: turns, resuming,
exactly-once, stale presses, the limits (each at, below and above), origins, headers, and what
the page is sent (structured text, never HTML)."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import shutil
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import build_engine
from bot.channels.web import WebChannel, api, guard
from bot.channels.web.guard import MAX_BODY, MAX_TEXT, clean_text
from bot.channels.web.limits import TokenBuckets
from bot.core.channels import CHANNELS
from bot.core.clicks import pseudonym
from bot.core.effects import Address
from bot.core.message_json import blocks, safe_url
from bot.run import Runner, configured, has_staff_place, wiring_of
from bot.server import create_app, serve
from bot.settings import ROOT, SettingsError, load_settings
from bot.turns.runner import TurnRunner
from tests.browser import WebServer
from tests.conftest import TO_PAIN_QUESTIONS

ALEX = "alex-anonymous-id-0123456789"  # what a browser makes: 22 to 64 of A-Z a-z 0-9 _ -
SAM = "sam-anonymous-id-012345678901"
PRACTICE_SITE = "https://www.practice-site.example"


@dataclass
class ChatServer:
    """The bot's server with the web chat mounted, and a client that speaks to it."""

    url: str
    http: aiohttp.ClientSession
    engine: TurnRunner
    channel: WebChannel
    sent: int = 0

    @property
    def origin(self) -> str:
        return self.url

    async def post(self, path: str, body: Any, origin: str | None = "", raw: bytes | None = None,
                   content_type: str = "application/json") -> tuple[int, dict[str, Any], Any]:
        """POST to /chat/api/<path>; (status, JSON answer, headers)."""
        headers = {"Content-Type": content_type}
        if origin is not None:
            headers["Origin"] = origin or self.origin
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.http.post(f"{self.url}/chat/api/{path}", data=data,
                                  headers=headers) as response:
            answer = await response.json(content_type=None)
            return response.status, answer, response.headers

    async def say(self, session: str, text: str, message_id: str = "") -> dict[str, Any]:
        status, answer, _ = await self.post("turn", self.turn_body(session, message_id,
                                                                   text=text))
        assert status == 200, answer
        return answer

    async def press(self, session: str, choice: str, turn: int | None = None,
                    message_id: str = "") -> dict[str, Any]:
        if turn is None:
            turn = (await self.resume(session))["turn"]
        body = self.turn_body(session, message_id, choice=choice, turn=turn)
        status, answer, _ = await self.post("turn", body)
        assert status == 200, answer
        return answer

    async def resume(self, session: str) -> dict[str, Any]:
        status, answer, _ = await self.post("resume", {"session": session})
        assert status == 200, answer
        return answer

    def turn_body(self, session: str, message_id: str = "", **fields: Any) -> dict[str, Any]:
        self.sent += 1
        return {"session": session, "message_id": message_id or f"message-{self.sent:04d}",
                **fields}


@asynccontextmanager
async def chat_server(tmp_path: Path, public_url: str = "",
                      **web_chat: Any) -> AsyncIterator[ChatServer]:
    """The real server (bot/server.py's guarded site) on 127.0.0.1 and a free port, SQLite;
    with `public_url`, links go through its `/go` redirect."""
    more = {"public_url": public_url} if public_url else {}
    settings = load_settings(data_dir=tmp_path / "data", web_chat=web_chat, **more)
    engine = build_engine(settings, wiring=wiring_of(settings))  # staff replies wait in the store
    await engine.store.open()
    app = create_app(engine)
    channel = WebChannel(engine, settings)
    channel.mount(app)
    runner = await serve(app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            yield ChatServer(f"http://127.0.0.1:{port}", http, engine, channel)
    finally:
        await runner.cleanup()
        await engine.store.close()


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[ChatServer]:
    async with chat_server(tmp_path, allowed_origins=[PRACTICE_SITE], session_burst=1000) as server:
        yield server


def texts(answer: dict[str, Any]) -> str:
    """Every word of the answer's messages, as plain text."""
    words = []
    for message in answer["messages"]:
        for block in message["blocks"]:
            lines = block.get("lines") or block.get("items") or [block.get("spans", [])]
            words += [span["text"] for line in lines for span in line]
    return "".join(words)


def choice_ids(answer: dict[str, Any]) -> list[str]:
    return [c["id"] for c in answer["messages"][-1]["choices"]]


# -- a conversation ------------------------------------------------------------------------------


async def test_new_person_has_nothing_to_resume_then_start_shows_the_welcome(
    chat: ChatServer,
) -> None:
    resumed = await chat.resume(ALEX)
    assert resumed["new"] is True and resumed["messages"] == []
    welcome = await chat.say(ALEX, "/start")
    assert welcome["state"] == "welcome"
    assert "begin" in choice_ids(welcome)
    assert all(c["turn"] == welcome["turn"] for c in welcome["messages"])


async def test_person_who_reloads_the_page_sees_the_current_question(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    await chat.press(ALEX, "begin")
    asked = await chat.press(ALEX, "me")
    resumed = await chat.resume(ALEX)
    assert resumed["new"] is False and resumed["state"] == asked["state"] == "age"
    assert resumed["turn"] == asked["turn"]
    assert choice_ids(resumed) == choice_ids(asked)


async def test_person_who_types_a_number_answers_a_typed_question(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    for choice in (*TO_PAIN_QUESTIONS,
                   "behind", "unsure", "long"):
        answer = await chat.press(ALEX, choice)
    assert answer["state"] == "pain_level" and answer["expects_text"] is True
    typed = await chat.say(ALEX, "6")
    assert typed["answered"] == "6" and typed["state"] != "pain_level"


async def test_pick_several_question_is_edited_in_place_until_done(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    for choice in (*TO_PAIN_QUESTIONS, "behind",
                   "unsure", "long", "skip", "none", "no", "no"):
        answer = await chat.press(ALEX, choice)
    assert answer["messages"][-1]["multi"] is True
    picked = await chat.press(ALEX, "everyday")
    assert picked["edit"] is True and len(picked["messages"]) == 1
    chosen = {c["id"]: c["selected"] for c in picked["messages"][0]["choices"]}
    assert chosen["everyday"] is True
    done = await chat.press(ALEX, "done")
    assert done["edit"] is False and done["answered"]


async def test_back_restart_and_forget_work_as_typed_commands(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    await chat.press(ALEX, "begin")
    assert (await chat.press(ALEX, "me"))["state"] == "age"
    assert (await chat.say(ALEX, "/back"))["state"] == "who"
    assert (await chat.say(ALEX, "/restart"))["state"] == "welcome"
    asked = await chat.say(ALEX, "/forget")
    assert "forget_yes" in choice_ids(asked)
    gone = await chat.press(ALEX, "forget_yes", asked["turn"])
    assert gone["forgotten"] is True
    assert (await chat.resume(ALEX))["new"] is True


# -- exactly once, stale presses -------------------------------------------------------------------


async def test_request_sent_twice_is_applied_once_and_answered_the_same(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    welcome = await chat.resume(ALEX)
    first = await chat.press(ALEX, "begin", welcome["turn"], message_id="retried-press-1")
    again = await chat.press(ALEX, "begin", welcome["turn"], message_id="retried-press-1")
    assert again["repeated"] is True and first["repeated"] is False
    assert again["messages"] == first["messages"] and again["turn"] == first["turn"]
    conversation = await chat.engine.store.load("web", ALEX)
    assert conversation is not None and conversation.turn == first["turn"]
    assert [a.state for a in conversation.history] == ["welcome"]


async def test_message_ids_of_one_browser_never_answer_for_another(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")  # the openings are kept nowhere (issue 29): the first
    await chat.say(SAM, "/start")  # answers are where message ids count
    alex = await chat.press(ALEX, "begin", 1, message_id="same-id-123")
    sam = await chat.press(SAM, "begin", 1, message_id="same-id-123")
    assert not alex["repeated"] and not sam["repeated"]
    assert await chat.engine.store.load("web", SAM) is not None


async def test_person_who_presses_an_old_button_sees_current_question(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    welcome = await chat.resume(ALEX)
    await chat.press(ALEX, "begin", welcome["turn"])
    who = await chat.press(ALEX, "me")
    old = await chat.press(ALEX, "begin", welcome["turn"])
    assert old["stale"] is True
    assert choice_ids(old) == choice_ids(who) and old["turn"] == who["turn"]
    conversation = await chat.engine.store.load("web", ALEX)
    assert conversation is not None and conversation.state == who["state"]


# -- rate limits -----------------------------------------------------------------------------------


async def test_one_browser_may_send_a_burst_up_to_the_limit_then_is_asked_to_wait(
    tmp_path: Path,
) -> None:
    async with chat_server(tmp_path, session_burst=3, session_per_minute=1) as chat:
        for _ in range(2):  # below the limit
            await chat.resume(ALEX)
        assert (await chat.post("resume", {"session": ALEX}))[0] == 200  # at the limit
        status, answer, headers = await chat.post("resume", {"session": ALEX})  # above it
        assert status == 429
        assert "wait a few seconds" in answer["error"]
        assert 1 <= answer["retry_after"] <= 60 and headers["Retry-After"]
        assert (await chat.post("resume", {"session": SAM}))[0] == 200  # others go on


async def test_one_address_may_send_a_burst_up_to_the_limit_then_is_asked_to_wait(
    tmp_path: Path,
) -> None:
    async with chat_server(tmp_path, address_burst=4, address_per_minute=1) as chat:
        sessions = [f"person-number-{n}-0123456789abcdef" for n in range(5)]
        for session in sessions[:3]:  # below
            assert (await chat.post("resume", {"session": session}))[0] == 200
        assert (await chat.post("resume", {"session": sessions[3]}))[0] == 200  # at
        status, answer, _ = await chat.post("resume", {"session": sessions[4]})  # above
        assert status == 429 and answer["retry_after"] >= 1


def test_buckets_refill_at_their_rate_and_never_past_the_burst() -> None:
    now = [0.0]
    buckets = TokenBuckets(burst=2, per_minute=60, clock=lambda: now[0])
    assert buckets.wait_needed("a") == 0 and buckets.wait_needed("a") == 0
    assert buckets.wait_needed("a") == pytest.approx(1.0)
    now[0] += 1.0
    assert buckets.wait_needed("a") == 0
    now[0] += 3600
    assert [buckets.wait_needed("a") for _ in range(3)][:2] == [0, 0]
    assert buckets.wait_needed("a") > 0


def test_buckets_forget_the_least_recently_used_past_their_bound() -> None:
    buckets = TokenBuckets(burst=1, per_minute=1, clock=lambda: 0.0, max_keys=2)
    buckets.wait_needed("a")
    buckets.wait_needed("b")
    buckets.wait_needed("c")  # "a" goes: it would have been full again soonest
    assert buckets.wait_needed("a") == 0
    assert buckets.wait_needed("c") > 0


# -- origins, content type, sizes --------------------------------------------------------------


async def test_request_from_another_site_is_refused(chat: ChatServer) -> None:
    status, answer, _ = await chat.post("turn", chat.turn_body(ALEX, text="/start"),
                                        origin="https://evil.example")
    assert status == 403 and "practice's own pages" in answer["error"]
    status, _, _ = await chat.post("turn", chat.turn_body(ALEX, text="/start"), origin=None)
    assert status == 403
    assert await chat.engine.store.load("web", ALEX) is None


async def test_practice_site_may_call_the_api_and_reads_the_answer_by_cors(
    chat: ChatServer,
) -> None:
    status, _, headers = await chat.post("resume", {"session": ALEX}, origin=PRACTICE_SITE)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == PRACTICE_SITE
    headers = {"Origin": PRACTICE_SITE, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}
    async with chat.http.options(f"{chat.url}/chat/api/turn", headers=headers) as preflight:
        assert preflight.headers["Access-Control-Allow-Origin"] == PRACTICE_SITE
        assert preflight.headers["Access-Control-Allow-Methods"] == "POST"
    headers["Origin"] = "https://evil.example"
    async with chat.http.options(f"{chat.url}/chat/api/turn", headers=headers) as preflight:
        assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_a_form_post_from_anywhere_is_refused(chat: ChatServer) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        status, answer, _ = await chat.post(
            "turn", chat.turn_body(ALEX, text="/start"), content_type=content_type)
        assert status == 415 and answer["error"]


async def test_body_at_the_size_limit_is_read_and_one_byte_more_is_refused(
    chat: ChatServer,
) -> None:
    def body_of(size: int) -> bytes:
        head = json.dumps({"session": ALEX, "message_id": "sized-body-1", "text": "hi"})
        return (head[:-1] + " " * (size - len(head)) + "}").encode()

    assert (await chat.post("turn", None, raw=body_of(MAX_BODY - 1)))[0] == 200  # below
    assert (await chat.post("turn", None, raw=body_of(MAX_BODY)))[0] == 200  # at
    status, answer, _ = await chat.post("turn", None, raw=body_of(MAX_BODY + 1))  # above
    assert status == 413 and "too long" in answer["error"]


async def test_longest_text_gets_an_answer_and_longer_is_refused_losing_nothing(
    chat: ChatServer,
) -> None:
    await chat.say(ALEX, "/start")
    below = await chat.say(ALEX, "knee " * ((MAX_TEXT - 1) // 5))
    before = await chat.resume(ALEX)  # kept from the first answer on (issue 29)
    at = await chat.say(ALEX, "x" * MAX_TEXT)
    assert below["state"] == at["state"] == "welcome" and at["messages"]
    status, answer, _ = await chat.post("turn", chat.turn_body(ALEX, text="x" * 5000))
    assert status == 413 and "5000 characters" in answer["error"]
    after = await chat.resume(ALEX)
    assert after["state"] == before["state"] and after["turn"] == before["turn"]


@pytest.mark.parametrize("typed", ["", "   \n\t ", "\x00\x01\u202e"])
async def test_empty_message_gets_a_friendly_word_and_changes_nothing(
    chat: ChatServer, typed: str
) -> None:
    await chat.say(ALEX, "/start")
    before = await chat.resume(ALEX)
    status, answer, _ = await chat.post("turn", chat.turn_body(ALEX, text=typed))
    assert status == 400 and "pick one of the buttons" in answer["error"]
    assert (await chat.resume(ALEX))["turn"] == before["turn"]


async def test_odd_unicode_is_cleaned_and_answered(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    text = r"\ud800caf\u0065\u0301 \u202eyes\u0000 " + "\U0001f9b5"
    raw = '{"session": "' + ALEX + '", "message_id": "odd-unicode-1", "text": "' + text + '"}'
    status, answer, _ = await chat.post("turn", None, raw=raw.encode())
    assert status == 200 and answer["messages"]
    assert clean_text("\ud800cafe\u0301 \u202eyes\x00 🦵") == "café yes 🦵"


@pytest.mark.parametrize(("session", "accepted"), [
    ("a" * 21, False), ("a" * 22, True), ("a" * 64, True), ("a" * 65, False),
    ("alex/../../etc/passwd-0000", False), ("alex anonymous id 01234567", False),
    (12345678901234567890123, False), (None, False),
])
async def test_session_id_must_look_like_one_the_page_makes(
    chat: ChatServer, session: Any, accepted: bool
) -> None:
    status, answer, _ = await chat.post("resume", {"session": session})
    assert (status == 200) is accepted
    if not accepted:
        assert status == 400 and "reload the page" in answer["error"]


@pytest.mark.parametrize("press", [
    {"choice": "begin", "turn": "1"}, {"choice": "", "turn": 1}, {"choice": "x" * 65, "turn": 1},
    {"choice": "begin", "turn": -1}, {"choice": "begin", "turn": True}, {"choice": 5, "turn": 1},
])
async def test_press_that_no_page_sends_is_refused(chat: ChatServer, press: dict[str, Any]) -> None:
    await chat.say(ALEX, "/start")
    status, answer, _ = await chat.post("turn", chat.turn_body(ALEX, **press))
    assert status == 400 and answer["error"]


async def test_turn_without_a_message_id_is_refused(chat: ChatServer) -> None:
    status, _, _ = await chat.post("turn", {"session": ALEX, "text": "/start"})
    assert status == 400


# -- what is sent: structured text, headers ---------------------------------------------------


def test_markup_becomes_blocks_of_spans_and_html_stays_text() -> None:
    shown = blocks("**Heading**\n\nHi <b>there</b> [site](https://a.example) "
                   "[bad](javascript:alert(1))\n- one\n- **two**")
    assert shown[0] == {"type": "heading", "spans": [{"kind": "bold", "text": "Heading"}]}
    spans = shown[1]["lines"][0]
    assert {"kind": "text", "text": "Hi <b>there</b> "} in spans
    assert {"kind": "link", "text": "site", "url": "https://a.example"} in spans
    assert {"kind": "text", "text": "bad"} in spans  # never a javascript: link
    assert shown[2]["type"] == "list" and shown[2]["items"][1] == [{"kind": "bold",
                                                                     "text": "two"}]


@pytest.mark.parametrize(("url", "safe"), [
    ("https://a.example/x", True), ("http://a.example", True), ("mailto:a@b.example", True),
    ("tel:+15551234567", True), ("javascript:alert(1)", False), ("data:text/html,x", False),
    ("https://", False), ("//evil.example", False), ("JaVaScRiPt:alert(1)", False),
])
def test_only_web_mail_and_phone_links_are_links(url: str, safe: bool) -> None:
    assert safe_url(url) is safe


async def test_chat_page_has_a_strict_policy_and_the_practice_name_escaped(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", web_chat={
        "allowed_origins": "https://www.practice-site.example, https://blog.practice.example"},
        practice={"name": "Knees & <Hips> PT"})
    engine = build_engine(settings)
    app = create_app(engine)
    WebChannel(engine, settings).mount(app)
    runner = await serve(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{url}/chat") as page:
            policy = page.headers["Content-Security-Policy"]
            body = await page.text()
            headers = page.headers
            async with http.get(f"{url}/chat/embed.js") as embed:
                embed_headers = embed.headers
            async with http.get(f"{url}/chat/assets/../../settings.py") as escape:
                assert escape.status == 404
    finally:
        await runner.cleanup()
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "object-src 'none'" in policy
    assert ("frame-ancestors 'self' https://www.practice-site.example "
            "https://blog.practice.example") in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Knees &amp; &lt;Hips&gt; PT" in body and "<Hips>" not in body
    assert "<script>" not in body and "style=" not in body  # no inline script or style
    assert embed_headers["Content-Type"].startswith("text/javascript")
    assert embed_headers["Cross-Origin-Resource-Policy"] == "cross-origin"


# -- staff replies, stopping, turning it off ------------------------------------------------------


async def test_staff_reply_waits_in_the_store_until_the_browser_collects_it(
    chat: ChatServer,
) -> None:
    await chat.say(ALEX, "/start")
    await chat.engine.from_staff(Address("web", ALEX), "Hello from the practice")
    status, collected, _ = await chat.post("poll", {"session": ALEX})
    assert status == 200 and "Hello from the practice" in texts(collected)
    status, again, _ = await chat.post("poll", {"session": ALEX})
    assert again["messages"] == []


async def test_staff_reply_comes_with_the_next_turn_when_no_poll_took_it(
    chat: ChatServer,
) -> None:
    welcome = await chat.say(ALEX, "/start")
    asked = await chat.press(ALEX, "begin", welcome["turn"])  # kept from here (issue 29)
    await chat.engine.from_staff(Address("web", ALEX), "We can see you Tuesday")
    answer = await chat.press(ALEX, "me", asked["turn"])
    assert "We can see you Tuesday" in texts({"messages": answer["messages"][:1]})
    assert answer["state"] == "age" and len(answer["messages"]) > 1


async def test_stopping_chat_finishes_turns_in_flight_and_refuses_new_ones(
    chat: ChatServer,
) -> None:
    await chat.say(ALEX, "/start")
    await chat.say(SAM, "/start")  # an opening is kept nowhere: Sam's first answer is a turn
    handle, entered, release = chat.engine.handle, asyncio.Event(), asyncio.Event()

    async def slow_handle(event: Any) -> Any:
        entered.set()
        await release.wait()
        return await handle(event)

    chat.engine.handle = slow_handle  # type: ignore[method-assign]
    in_flight = asyncio.create_task(chat.press(SAM, "begin", 1))
    await entered.wait()
    stopping = asyncio.create_task(chat.channel.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the turn in flight
    release.set()
    assert (await in_flight)["state"] == "who"
    await stopping
    status, answer, headers = await chat.post("turn", chat.turn_body(ALEX, text="hi"))
    assert status == 503 and "try again in a moment" in answer["error"]
    assert headers["Retry-After"]


async def test_booking_click_from_the_web_chat_is_counted_under_web_with_its_token(
    tmp_path: Path,
) -> None:
    async with chat_server(tmp_path, public_url="https://bot.test") as chat:
        await chat.say(ALEX, "/start")
        answer = await chat.say(ALEX, "book")
        (link,) = [link["url"] for m in answer["messages"] for link in m["links"]
                   if "/go/book" in link["url"]]
        assert link.startswith("https://bot.test/go/book?channel=web")
        local = chat.url + link.removeprefix("https://bot.test")
        async with chat.http.get(local, allow_redirects=False) as response:
            assert response.status == 302
            forwarded = response.headers["Location"]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(forwarded).query)
        assert query["utm_source"] == ["web"], "the practice sees the web chat as the source"
        (row,) = [r for r in await chat.engine.store.stats() if r.kind == "link_click"]
        assert (row.channel, row.detail, row.count) == ("web", "book", 1)
        with contextlib.closing(sqlite3.connect(chat.engine.store.path)) as db:
            (clicker,), = db.execute("SELECT clicker FROM clicks").fetchall()
        key = chat.engine.settings.link_key
        assert clicker == pseudonym(key, "web", ALEX), "the link's signed token is accepted"


def test_runner_serves_the_web_chat_by_default_without_an_outbox(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    runner = Runner(settings)
    assert [channel.name for channel in runner.channels] == ["web"]
    assert "web" in runner.engine.wiring.delivered
    assert configured(CHANNELS["web"], settings)
    assert not has_staff_place(CHANNELS["web"], settings)


def test_web_chat_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_WEB_CHAT__ENABLED", "false")
    settings = load_settings(data_dir=tmp_path / "data")
    assert Runner(settings).channels == []
    assert not any(r.resource.canonical.startswith("/chat")
                   for r in Runner(settings).app.router.routes())


def test_allowed_origins_are_origins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_WEB_CHAT__ALLOWED_ORIGINS", "https://A.example,http://b.example:8080")
    assert load_settings().web_chat.allowed_origins == ("https://a.example",
                                                        "http://b.example:8080")
    for wrong in ("https://a.example/path", "javascript:alert(1)", "a.example"):
        monkeypatch.setenv("BOT_WEB_CHAT__ALLOWED_ORIGINS", wrong)
        with pytest.raises(SettingsError, match="allowed_origins"):
            load_settings()


async def test_reload_while_asked_to_delete_everything_asks_again(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    await chat.say(ALEX, "/forget")
    resumed = await chat.resume(ALEX)
    assert "forget_yes" in choice_ids(resumed)
    gone = await chat.press(ALEX, "forget_yes", resumed["turn"])
    assert gone["forgotten"] is True


@pytest.mark.process
@pytest.mark.parametrize("command", ["web", "run"])
def test_python_m_bot_serves_the_chat_page(tmp_path: Path, command: str) -> None:
    with WebServer.started(tmp_path, command=command) as server:
        page = urllib.request.urlopen(server.url + "/chat", timeout=5)
        assert page.status == 200 and "Content-Security-Policy" in page.headers


@pytest.mark.process
def test_python_m_bot_web_runs_without_the_chat_when_it_is_turned_off(tmp_path: Path) -> None:
    with WebServer.started(tmp_path, command="web", BOT_WEB_CHAT__ENABLED="false") as server:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/chat", timeout=5)
        assert refused.value.code == 404
        assert urllib.request.urlopen(server.url + "/healthz", timeout=5).status == 200


PAGE_WORDS = ("title", "heading", "note", "needs_script", "answer_label", "send", "back",
              "start_over", "forget", "conversation", "tools", "you", "new_tab", "unreachable",
              "close", "urgent", "call")


def test_the_page_speaks_from_the_templates_every_placeholder_filled(tmp_path: Path) -> None:
    engine = build_engine(load_settings(data_dir=tmp_path))
    words = engine.renderer.names(api.PAGE_TEMPLATE, practice=engine.settings.practice,
                                  emergency="911")

    page = api.WebChatApi(engine, engine.settings).page

    assert "{{" not in page and "}}" not in page
    for name in PAGE_WORDS:
        assert html.escape(str(getattr(words, name)).strip()) in page, name
    assert 'data-failed="Something went wrong on our side.' in page  # errors.j2's, for the script


def test_a_practice_rewording_the_page_template_changes_the_page(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    page_template = templates / "web" / "page.j2"
    page_template.write_text(page_template.read_text().replace(
        '{% set send = "Send" %}', '{% set send = "Envoyer" %}'))
    engine = build_engine(load_settings(data_dir=tmp_path / "data", templates_dir=templates))

    page = api.WebChatApi(engine, engine.settings).page

    assert 'class="primary">Envoyer</button>' in page and ">Send<" not in page


def test_every_refusal_has_its_words_in_the_templates(tmp_path: Path) -> None:
    """Each reason the web chat refuses a request for names words in templates/web/errors.j2."""
    engine = build_engine(load_settings(data_dir=tmp_path))
    words = engine.renderer.names(api.ERRORS_TEMPLATE, practice=engine.settings.practice)
    reasons = {api.EMPTY, api.BAD_PRESS, api.SLOW_DOWN, api.BUSY, api.FAILED, guard.TOO_BIG,
               guard.NOT_JSON, guard.WRONG_ORIGIN, guard.BAD_SESSION}
    for reason in reasons:
        assert isinstance(getattr(words, reason), str) and getattr(words, reason).endswith(".")
    too_long = guard.Refused(413, api.TOO_LONG, length=4001, limit=4000).response(words)
    assert json.loads(too_long.text)["error"].startswith(
        "That message is too long (4001 characters; at most 4000).")


# -- issue 28: urgent advice, what the web offers, the practice's look --------------------------


async def test_red_flag_advice_carries_its_urgency_and_the_rest_none(chat: ChatServer) -> None:
    welcome = await chat.say(ALEX, "/start")
    assert welcome["messages"][-1]["urgency"] is None
    for choice in ("begin", "me", "adult", "no", "new", "no"):  # it swelled up recently
        await chat.press(ALEX, choice)
    advice = await chat.press(ALEX, "yes")  # a hot, swollen knee: an emergency
    assert advice["state"] == "redflag_hot_swollen"
    assert [m["urgency"] for m in advice["messages"]][-1] == "emergency"
    resumed = await chat.resume(ALEX)  # after a reload, still marked
    assert resumed["messages"][-1]["urgency"] == "emergency"


async def test_the_web_result_offers_no_check_in_it_could_never_send(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    answer: dict[str, Any] = {}
    for choice in (*TO_PAIN_QUESTIONS, "behind", "unsure", "long", "skip", "none", "no", "no",
                   "everyday", "done", "no", "no", "yes", "now", "steady", "pass", "hips_tight",
                   "done", "yes", "steady"):
        answer = await chat.press(ALEX, choice)
    assert answer["state"].startswith("result")
    offered = [c["id"] for m in answer["messages"] for c in m["choices"]]
    assert "/remind" not in offered and "/contact" in offered
    assert CHANNELS["telegram"].later_messages  # where it can arrive, it still is offered


def test_telegram_still_offers_the_check_in_the_web_does_not(tmp_path: Path) -> None:
    engine = build_engine(load_settings(data_dir=tmp_path / "data"))
    commands = engine.dialog.commands
    assert commands.offered_on("remind", "telegram") and commands.offered_on("remind", "discord")
    assert not commands.offered_on("remind", "web")
    assert not commands.offered_on("remind", "console")
    assert commands.offered_on("contact", "web")


def test_the_look_settings_are_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, wrong, says in (
        ("BRAND_COLOR", "#ffee00", "darker"), ("BRAND_COLOR", "navy", "#rrggbb"),
        ("LOGO_FILE", str(tmp_path / "missing.svg"), "no such file"),
        ("LOGO_FILE", str(tmp_path), "image file"), ("LAUNCHER_POSITION", "top", "'right'"),
        ("LAUNCHER_LABEL", "x" * 41, "40 characters"), ("EMERGENCY_NUMBER", "9-1-1", "digits"),
    ):
        monkeypatch.setenv(f"BOT_WEB_CHAT__{name}", wrong)
        with pytest.raises(SettingsError, match=says):
            load_settings()
        monkeypatch.delenv(f"BOT_WEB_CHAT__{name}")
    monkeypatch.setenv("BOT_WEB_CHAT__BRAND_COLOR", "#6A1B9A")
    assert load_settings().web_chat.brand_color == "#6a1b9a"


async def test_page_and_embed_script_carry_the_practice_look(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    async with chat_server(tmp_path, brand_color="#6a1b9a", logo_file=str(logo),
                           launcher_label="Ask </script> us", launcher_position="left",
                           emergency_number="000") as server:
        async with server.http.get(f"{server.url}/chat") as page:
            body = await page.text()
        async with server.http.get(f"{server.url}/chat/embed.js") as embed:
            script = await embed.text()
        async with server.http.get(f"{server.url}/chat/logo") as image:
            assert image.status == 200 and image.headers["Content-Type"] == "image/png"
            assert await image.read() == logo.read_bytes()
    assert 'data-brand="#6a1b9a"' in body and 'data-emergency="000"' in body
    assert 'data-call="Call 000"' in body and 'src="/chat/logo"' in body
    assert '"label": "Ask \\u003c/script> us"' in script and '"position": "left"' in script
    settings_line = next(line for line in script.splitlines() if "var settings =" in line)
    assert "/*settings*/" not in settings_line and "</script>" not in settings_line


async def test_without_a_logo_the_page_shows_the_chat_icon(chat: ChatServer) -> None:
    async with chat.http.get(f"{chat.url}/chat") as page:
        body = await page.text()
    async with chat.http.get(f"{chat.url}/chat/logo") as image:
        assert image.status == 404
    assert 'src="/chat/assets/icon.svg"' in body and 'data-emergency="911"' in body


async def test_help_on_the_web_names_its_button_and_offers_no_check_in(chat: ChatServer) -> None:
    await chat.say(ALEX, "/start")
    helped = texts(await chat.say(ALEX, "help"))
    assert "Delete my data" in helped and "/forget" not in helped and "/withdraw" not in helped
    assert "remind me" not in helped


def test_consent_names_the_controls_of_the_channel_it_is_shown_on(tmp_path: Path) -> None:
    from bot.core.conversation import Conversation

    engine = build_engine(load_settings(data_dir=tmp_path / "data"))
    for channel, says, never in (("web", "Delete my data", "/forget"),
                                 ("telegram", "/forget", "Delete my data")):
        conv = Conversation(channel, "alex")
        text = engine.dialog.compose.render("contact/contact_consent.j2", conv)
        assert says in text and never not in text, (channel, text)
    help_text = engine.dialog.compose.render("common/help.j2", Conversation("telegram", "a"))
    assert "**/forget**" in help_text and "remind me" in help_text
