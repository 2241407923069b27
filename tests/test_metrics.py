"""The operators' `/metrics`: a process run as `python -m bot web` is scraped over a real
socket, after people chatted through the web chat's API and a CRM's webhook failed every way
a platform can; the series are read back with prometheus_client's own parser. Off unless a
token is set; refused without the right one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.channels.telegram.webhook import SECRET_HEADER
from bot.core.records import Followup
from bot.run import Runner
from bot.settings import SettingsError, load_settings
from tests.fakes.discord.faults import DM
from tests.fakes.telegram import FakeTelegram
from tests.harness.discord import Server as DiscordServer
from tests.harness.discord import person, server  # noqa: F401 (the Discord fixtures)
from tests.harness.telegram import bot_running, local_url, webhook_settings

TOKEN = "metrics-token-4Jk9-Qz7w-Lp2x"
START = 1_800_000_000.0
ALEX = "alex-anonymous-id-0123456789"
SECRET = "alert-signing-secret-9Hq2-Wm4v"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@dataclass
class Crm:
    """A CRM's webhook endpoint: answers each post as scripted ("slow": too late to count)."""

    url: str = ""
    answers: list[int | str] = field(default_factory=list)
    posts: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.posts += 1
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "slow":
            await asyncio.sleep(3)
            return web.Response()
        assert isinstance(answer, int)
        headers = {"Retry-After": "7"} if answer == 429 else {}
        return web.Response(status=answer, headers=headers)


@contextlib.asynccontextmanager
async def crm_server() -> AsyncIterator[Crm]:
    crm = Crm()
    app = web.Application()
    app.router.add_post("/hooks", crm.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    crm.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks"
    try:
        yield crm
    finally:
        await runner.cleanup()


@dataclass
class Bot:
    """The process's runner (web chat only, as `python -m bot web` runs it), its clock, and a
    client for its port."""

    runner: Runner
    clock: Clock
    http: aiohttp.ClientSession
    url: str

    async def chat(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(f"{self.url}/chat/api/{path}", json=body,
                                  headers={"Origin": self.url}) as response:
            assert response.status == 200, await response.text()
            return await response.json()  # type: ignore[no-any-return]

    async def scrape(self, authorization: str | None = f"Bearer {TOKEN}",
                     ) -> tuple[int, str, Any]:
        headers = {"Authorization": authorization} if authorization is not None else {}
        async with self.http.get(f"{self.url}/metrics", headers=headers) as response:
            return response.status, await response.text(), response.headers

    async def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of the scrape: (name, its labels sorted) -> value."""
        status, text, headers = await self.scrape()
        assert status == 200, text
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples}


@contextlib.asynccontextmanager
async def running_bot(tmp_path: Any, **settings: Any) -> AsyncIterator[Bot]:
    clock = Clock()
    loaded = load_settings(data_dir=tmp_path / "data", web_port=0, outbox_lease=1.0,
                           followups={"poll_seconds": 3600}, **settings)
    runner = Runner(loaded, only=("web",), clock=clock)
    await runner.start()
    try:
        assert runner._server is not None
        port = runner._server.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            yield Bot(runner, clock, http, f"http://127.0.0.1:{port}")
    finally:
        await runner.stop()


def series(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def posts_reach(crm: Crm, count: int) -> None:
    async with asyncio.timeout(10):
        while crm.posts < count:
            await asyncio.sleep(0.02)


async def test_operator_scrapes_turns_backlog_failures_and_checkins_after_people_chat(tmp_path):
    async with crm_server() as crm, running_bot(
        tmp_path, metrics_token=TOKEN, public_url="https://bot.practice-site.example",
        alerts={"webhook": {"url": crm.url, "secret": SECRET}},
    ) as bot:
        crm.answers = [429, 503, "slow", 410]
        # A person opens the chat (kept nowhere: not a turn), answers (the opening is taken
        # with it: two turns) and asks for a person (a third), whose notice the CRM refuses.
        opening = await bot.chat("turn", {"session": ALEX, "message_id": "message-1",
                                          "text": "/start"})
        await bot.chat("turn", {"session": ALEX, "message_id": "message-2", "choice": "begin",
                                "turn": opening["turn"]})
        await bot.chat("turn", {"session": ALEX, "message_id": "message-3",
                                "text": "talk to a person"})
        assert crm.posts == 1  # sent with the turn: 429, come back in 7 s
        store = bot.runner.engine.store
        for due_in in (-1.0, 0.0, 1.0):  # due a second ago, due now, due in a second
            await store.schedule_followup(Followup(0, "telegram", "4401", "knee", "checkin",
                                                   START + 5 + due_in))

        bot.clock.now = START + 5  # below the 7 s asked for: the notice still waits
        samples = await bot.samples()
        assert series(samples, "bot_turn_seconds_count", channel="web") == 3
        assert 0 < series(samples, "bot_turn_seconds_sum", channel="web") < 10
        assert series(samples, "bot_turn_seconds_bucket", channel="web", le="+Inf") == 3
        assert series(samples, "bot_outbox_messages", channel="staff:webhook") == 1
        assert series(samples, "bot_outbox_oldest_age_seconds", channel="staff:webhook") == 5
        assert series(samples, "bot_outbox_messages", channel="web") == 0
        assert series(samples, "bot_outbox_oldest_age_seconds", channel="web") == 0
        assert series(samples, "bot_checkins_due", channel="telegram") == 2
        assert series(samples, "bot_send_failures_total", channel="staff:webhook",
                      kind="429") == 1

        for step, posts in ((3.0, 2), (2.0, 3), (4.0, 4)):  # 503, too slow, 410 (dropped)
            bot.clock.now += step
            await bot.runner.engine.deliveries.send_due()
            await posts_reach(crm, posts)
        samples = await bot.samples()
        failures = {kind: series(samples, "bot_send_failures_total", channel="staff:webhook",
                                 kind=kind) for kind in ("429", "5xx", "timeout", "other")}
        assert failures == {"429": 1, "5xx": 1, "timeout": 1, "other": 1}
        assert series(samples, "bot_outbox_messages", channel="staff:webhook") == 0
        assert series(samples, "bot_checkins_due", channel="telegram") == 3  # the third is due
        assert not any(ALEX in str(labels) or "person" in str(labels) for _, labels in samples)


async def test_booking_webhooks_are_counted_by_what_became_of_them(tmp_path):
    async with running_bot(tmp_path, metrics_token=TOKEN,
                           booking_webhook_secret="booking-secret-Zx81-Pq0r") as bot:
        for signature in ("", "t=1,v1=00", f"t={int(time.time())},v1=" + "0" * 64):
            async with bot.http.post(f"{bot.url}/webhooks/calendly", data=b"{}",
                                     headers={"Calendly-Webhook-Signature": signature}) as sent:
                assert sent.status == 401
        samples = await bot.samples()
    refused = {reason: series(samples, "bot_webhook_requests_total", source="calendly",
                              result="refused", reason=reason)
               for reason in ("no_signature", "wrong_signature")}
    assert refused == {"no_signature": 1, "wrong_signature": 2}


@pytest.mark.parametrize(("token", "served"), [(None, 404), (TOKEN, 200)])
async def test_metrics_are_served_only_once_a_token_is_set(tmp_path, token, served):
    async with running_bot(tmp_path, metrics_token=token) as bot:
        status, text, _ = await bot.scrape()
    assert status == served and ("bot_turn_seconds" in text) == (served == 200)


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", TOKEN,
    f"Basic {TOKEN}", "Bearer tökén",
])
async def test_a_scrape_without_the_right_token_is_refused(tmp_path, authorization):
    async with running_bot(tmp_path, metrics_token=TOKEN) as bot:
        status, text, headers = await bot.scrape(authorization)
        right, _, _ = await bot.scrape()
    assert status == 401 and "bot_" not in text
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert right == 200


@pytest.mark.parametrize(("token", "why"), [
    ("replace-me", "placeholder"),
    ("changeme-changeme-changeme", "placeholder"),
    ("Sh0rt-t0ken-15c", "at least 16"),  # 15 characters: one short
])
def test_a_placeholder_or_short_metrics_token_is_refused_in_one_line(token, why):
    with pytest.raises(SettingsError) as refused:
        load_settings(metrics_token=token)
    (line,) = refused.value.lines
    assert line.startswith("metrics_token (BOT_METRICS_TOKEN)") and why in line


def test_a_metrics_token_of_16_characters_is_taken():
    assert load_settings(metrics_token="Sh0rt-t0ken-16ch").metrics_token is not None


async def test_two_apps_in_one_process_count_apart(tmp_path):
    async with running_bot(tmp_path / "one", metrics_token=TOKEN) as one, \
            running_bot(tmp_path / "two", metrics_token=TOKEN) as two:
        opening = await one.chat("turn", {"session": ALEX, "message_id": "message-1",
                                          "text": "/start"})
        await one.chat("turn", {"session": ALEX, "message_id": "message-2", "choice": "begin",
                                "turn": opening["turn"]})
        counted = (await one.samples(), await two.samples())
    assert [series(s, "bot_turn_seconds_count", channel="web") for s in counted] == [2, None]


# -- Telegram: updates by webhook, sends that fail ------------------------------------------------


async def test_telegram_webhook_results_and_a_failed_send_are_counted(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    settings = webhook_settings(tmp_path, telegram, metrics_token=TOKEN)
    telegram.fail("sendMessage", 500)  # the first reply: Telegram has a bad moment
    async with bot_running(settings, telegram, webhook=True) as bot:
        alex = bot.person()
        await alex.send("/start")
        async with asyncio.timeout(10):  # sent again by the outbox, after its pause
            while not alex.received:
                await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as client:
            update = telegram.message_update(alex.user, alex.chat, text="hi") | {"update_id": 7}
            forged = await client.post(local_url(settings, "/telegram"), json=update,
                                       headers={SECRET_HEADER: "guess"})
            assert forged.status == 403
            async with client.get(local_url(settings, "/metrics"),
                                  headers={"Authorization": f"Bearer {TOKEN}"}) as scraped:
                text = await scraped.text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert series(samples, "bot_turn_seconds_count", channel="telegram") == 1
    assert series(samples, "bot_send_failures_total", channel="telegram", kind="5xx") == 1
    assert series(samples, "bot_webhook_requests_total", source="telegram", result="accepted",
                  reason="handled") == 1
    assert series(samples, "bot_webhook_requests_total", source="telegram", result="refused",
                  reason="wrong_secret") == 1
    assert series(samples, "bot_outbox_messages", channel="telegram") == 0


# -- Discord: sends that fail, by kind ------------------------------------------------------------


@pytest.mark.parametrize(("status", "retry_after", "kind"), [
    (503, 0.0, "5xx"), (429, 45.0, "429"), (403, 0.0, "other")])
async def test_a_discord_send_that_fails_is_counted_by_its_kind(
    server: DiscordServer, person, status, retry_after, kind
) -> None:
    await server.start_bot()
    cara = person(104, "cara")
    await cara.types("hi")
    server.fake.fail(DM, status, retry_after=retry_after)  # 45 s: longer than discord.py waits
    await cara.types("ok")
    failures = server.engine.metrics.registry.get_sample_value
    async with asyncio.timeout(10):
        while not failures("bot_send_failures_total", {"channel": "discord", "kind": kind}):
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # nothing else is counted meanwhile
    counted = {other: failures("bot_send_failures_total", {"channel": "discord", "kind": other})
               for other in ("429", "5xx", "timeout", "other")}
    assert counted == {other: 1.0 if other == kind else None
                       for other in ("429", "5xx", "timeout", "other")}


async def test_a_scrape_while_the_database_is_down_still_gives_the_counters(tmp_path):
    async with running_bot(tmp_path, metrics_token=TOKEN) as bot:
        opening = await bot.chat("turn", {"session": ALEX, "message_id": "message-1",
                                          "text": "/start"})
        await bot.chat("turn", {"session": ALEX, "message_id": "message-2", "choice": "begin",
                                "turn": opening["turn"]})
        await bot.runner.engine.store.close()  # the database is gone from under the process
        samples = await bot.samples()
    assert series(samples, "bot_turn_seconds_count", channel="web") == 2
    assert not [name for name, _ in samples if name.startswith(("bot_outbox", "bot_checkins"))]
