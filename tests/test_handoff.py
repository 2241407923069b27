"""Leads with consent, staff notices, funnel events, retention, forget, and the link redirect."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import aiohttp
import psycopg
import pytest

from bot.app import build_engine, purging_daily
from bot.core.channels import CHANNELS
from bot.core.effects import StaffNotice
from bot.core.events import Event, EventKind
from bot.core.records import Lead
from bot.handoff.reports import export_leads, funnel_table
from bot.server import create_app, serve
from bot.settings import load_settings
from bot.tools.client import DialogClient
from tests.conftest import (
    TO_HOT_SWOLLEN,
    answer_safety_questions_no,
    finish_with_hip_mobility,
    wired,
)


class StaffInbox:
    """A staff place that keeps what it is sent (the platform ones are tested per channel)."""

    def __init__(self) -> None:
        self.notices: list[StaffNotice] = []

    async def notify(self, notice: StaffNotice) -> None:
        self.notices.append(notice)


@pytest.fixture
def inbox() -> StaffInbox:
    return StaffInbox()


@pytest.fixture
def person(engine, inbox: StaffInbox) -> DialogClient:
    """A person talking to a process that also runs a staff place (`inbox`)."""
    runner = wired(engine, staff_places=("test",))
    runner.outboxes["staff:test"] = inbox
    return DialogClient(runner, "alex")


async def finish_knee_check(person: DialogClient) -> None:
    await answer_safety_questions_no(person)
    await finish_with_hip_mobility(person)
    assert "/contact" in person.choice_ids


def rows(engine, table: str, user_id: str) -> int:
    """How many rows of a table are about a user, read past the store (SQLite or PostgreSQL)."""
    query = f"SELECT count(*) FROM {table} WHERE user_id = %s"
    if engine.settings.database_url is not None:
        with psycopg.connect(engine.settings.database_url.get_secret_value()) as db:
            return db.execute(query, (user_id,)).fetchone()[0]
    with contextlib.closing(sqlite3.connect(engine.store.path)) as db:
        return db.execute(query.replace("%s", "?"), (user_id,)).fetchone()[0]


async def test_person_who_asks_to_be_contacted_becomes_a_lead_and_staff_hear(person, inbox):
    await finish_knee_check(person)
    await person.click("/contact")
    assert person.last.state == "contact_consent"
    await person.click("consent")
    assert person.last.state == "contact_name"
    await person.send("Sam Rivera")
    assert person.last.state == "contact_method" and "Sam Rivera" not in person.text
    await person.send("sam@example")
    assert person.last.state == "contact_method" and "email address" in person.text
    await person.send("12345")
    assert person.last.state == "contact_method"
    await person.send("Sam.Rivera@Example.com")
    assert person.last.state == "contact_saved" and "Sam.Rivera@example.com" in person.text

    (lead,) = await person.engine.store.leads()
    assert (lead.name, lead.email, lead.phone) == ("Sam Rivera", "Sam.Rivera@example.com", "")
    assert lead.drivers == ("hip_mobility",) and lead.flow == "knee" and lead.red_flag is None
    (notice,) = inbox.notices
    assert notice.kind == "lead" and "Sam Rivera" in notice.text and "Hip mobility" in notice.text
    saved = await person.engine.store.load("test", "alex")
    assert "name" not in saved.facts and "contact" not in saved.facts


async def test_phone_numbers_are_validated_and_normalised(person, inbox):
    await person.send("/contact")
    await person.send("yes")
    await person.send("Kim")
    await person.send("555")
    assert person.last.state == "contact_method"
    await person.send("(415) 555-2671")
    (lead,) = await person.engine.store.leads()
    assert lead.phone == "+14155552671" and lead.email == "" and lead.drivers == ()


async def test_without_consent_nothing_is_stored_or_sent(person, inbox):
    await finish_knee_check(person)
    await person.click("/contact")
    await person.send("Sam")
    await person.send("sam@example.com")
    await person.click("no_consent")
    assert person.last.state == "contact_declined"
    assert await person.engine.store.leads() == [] and inbox.notices == []
    saved = await person.engine.store.load("test", "alex")
    assert "sam@example.com" not in saved.to_json() and "Sam" not in saved.to_json()


async def test_forget_removes_conversation_events_and_leads(person, inbox):
    await person.send("/contact")
    await person.send("yes")
    await person.send("Sam")
    await person.send("sam@example.com")
    engine = person.engine
    tables = ("conversations", "events", "leads", "consents")
    assert [rows(engine, t, "alex") for t in tables] == [1, 1, 1, 2]  # the lead alone
    await person.send("/forget")
    await person.click("forget_yes")
    assert "any contact request" in person.text
    assert [rows(engine, t, "alex") for t in tables] == [0, 0, 0, 0]


async def test_retention_purges_what_is_older_than_the_window(tmp_path):
    now = [1_000_000.0]
    settings = load_settings(data_dir=tmp_path, retention_days=30)
    engine = build_engine(settings)
    engine.clock = lambda: now[0]
    old = DialogClient(engine, "old-timer")
    await old.send("/contact")
    await old.send("yes")
    await old.send("Pat")
    await old.send("pat@example.com")
    with sqlite3.connect(engine.store.path) as db:  # saved long ago
        db.execute("UPDATE conversations SET updated_at = ?", (now[0],))
    now[0] += 31 * 86400
    recent = DialogClient(engine, "newcomer")
    await recent.send("/start")
    deleted = await engine.purge_expired()
    assert deleted == {"conversations": 1, "events": 1, "leads": 1, "relays": 0,
                       "unanswered conversations": 0, "unfinished contact forms": 0}
    assert await engine.store.leads() == []
    assert await engine.store.load("test", "newcomer") is not None
    await engine.store.close()


async def test_stats_count_starts_finishes_red_flags_and_leads_from_stored_events(settings):
    engine = build_engine(settings)
    for user in ("a", "b"):
        await finish_knee_check(DialogClient(engine, user, channel="telegram"))
    flagged = DialogClient(engine, "c", channel="discord")
    await flagged.send("/start")
    for choice in (*TO_HOT_SWOLLEN, "yes"):  # for me, no recent injury, a hot swollen knee
        await flagged.click(choice)
    assert flagged.last.outcome is not None and flagged.last.outcome.red_flag == "hot_swollen"
    await engine.store.close()

    reopened = build_engine(settings)  # numbers come from rows, not counters lost on restart
    table = funnel_table(await reopened.store.stats())
    lines = {tuple(line.split()[:2]): line.split()[2:] for line in table.splitlines()[1:]}
    assert lines[("telegram", "knee")][:3] == ["2", "2", "0"]
    assert lines[("discord", "knee")][:3] == ["1", "0", "1"]
    await reopened.store.close()


async def test_talking_to_a_person_relays_both_ways_until_staff_are_done(person, inbox):
    await finish_knee_check(person)
    await person.send("talk to a person")
    assert "let the team" in person.text
    assert inbox.notices[-1].kind == "talk_request"
    assert "Hip mobility" in inbox.notices[-1].text
    reply = await person.send("Is it OK to keep running?")
    assert reply.messages == ()
    assert inbox.notices[-1].kind == "relay_message"
    assert "Is it OK to keep running?" in inbox.notices[-1].text
    staff = Event("test", "alex", EventKind.STAFF, text="Yes, easy runs are fine for now.")
    reply = await person.engine.handle(staff)
    assert "easy runs are fine" in reply.messages[0].text
    done = await person.engine.handle(Event("test", "alex", EventKind.STAFF, text="/done"))
    assert "closed this chat" in done.messages[0].text
    assert inbox.notices[-1].kind == "relay_ended"
    await person.send("book")
    assert person.last.messages[0].links  # back with the bot


async def test_a_running_bot_purges_old_data_at_start_and_then_daily(tmp_path):
    now = [1_000_000.0]
    engine = build_engine(load_settings(data_dir=tmp_path, retention_days=1))
    engine.clock = lambda: now[0]
    await DialogClient(engine, "early").send("/start")
    with sqlite3.connect(engine.store.path) as db:
        db.execute("UPDATE conversations SET updated_at = ?", (now[0],))
    now[0] += 2 * 86400
    async with purging_daily(engine, every=0.01):
        await asyncio.sleep(0.05)
        assert await engine.store.load("test", "early") is None
        await DialogClient(engine, "late").send("/start")
        with sqlite3.connect(engine.store.path) as db:
            db.execute("UPDATE conversations SET updated_at = ?", (now[0],))
        now[0] += 2 * 86400  # a day and more goes by while the bot runs
        await asyncio.sleep(0.05)
        assert await engine.store.load("test", "late") is None
    await engine.store.close()


async def test_without_a_staff_chat_the_bot_promises_no_person_and_keeps_the_place(engine):
    person = DialogClient(engine, "alex")  # no staff place wired
    await answer_safety_questions_no(person)
    reply = await person.send("talk to a person")
    assert "no one from the team" in person.text and "/contact" in person.text
    assert reply.state == "pain_where" and person.choice_ids[-1] == "unsure"
    await person.send("Front, around the kneecap")
    assert person.last.state == "pain_worse", "typing still answers the bot"


def test_leads_export_as_csv_guards_against_spreadsheet_formulas():
    lead = Lead("telegram", "1", "=HYPERLINK(\"x\")", "a@b.co", "", "knee", "knee",
                ("hip_mobility",), None, 0.0)
    text = export_leads([lead], "csv")
    header, row = text.splitlines()
    assert header.startswith("created_at,name,email")
    assert "'=HYPERLINK" in row and "hip_mobility" in row


@pytest.fixture
async def web_server(settings):
    engine = build_engine(replace(settings, public_url="https://bot.test"))
    app = create_app(engine)
    runner = await serve(app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    yield engine, f"http://127.0.0.1:{port}"
    await runner.cleanup()
    await engine.store.close()


async def test_booking_link_goes_through_the_redirect_which_counts_and_forwards(web_server):
    engine, base = web_server
    person = DialogClient(engine, "alex", channel="telegram")
    await person.send("/start")
    reply = await person.send("book")
    (link,) = reply.messages[0].links
    assert link.url.startswith("https://bot.test/go/book?channel=telegram")
    local = base + link.url.removeprefix("https://bot.test")
    async with aiohttp.ClientSession() as http, http.get(local, allow_redirects=False) as answer:
        assert answer.status == 302
        forwarded = answer.headers["Location"]
    assert forwarded.startswith(engine.settings.practice.booking_url)
    query = parse_qs(urlsplit(forwarded).query)
    assert query["utm_source"] == ["telegram"] and query["utm_medium"] == ["chatbot"]
    assert query["a1"] == ["Booked from the knee pain check on Telegram"], "no health details"
    saved = await engine.store.load("telegram", "alex")
    assert query["utm_content"] == [saved.booking_ref]
    (row,) = [r for r in await engine.store.stats() if r.kind == "link_click"]
    assert (row.channel, row.detail, row.count) == ("telegram", "book", 1)


async def test_redirect_refuses_unknown_targets_and_never_forwards_to_a_given_url(web_server):
    engine, base = web_server
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/go/evil?url=https://evil.test",
                            allow_redirects=False) as answer:
            assert answer.status == 404
        async with http.get(f"{base}/go/youtube?channel=x&url=https://evil.test",
                            allow_redirects=False) as answer:
            assert answer.status == 302
            assert answer.headers["Location"] == engine.settings.practice.youtube_url
        async with http.get(f"{base}/healthz") as answer:
            assert answer.status == 200
    (row,) = [r for r in await engine.store.stats() if r.kind == "link_click"]
    assert row.channel == "unknown"


async def test_behind_a_trusted_proxy_clicks_without_a_token_count_per_forwarded_address(
    settings,
):
    trusted = replace(settings, public_url="https://bot.test",
                      web_chat=replace(settings.web_chat, trust_forwarded_for=True))
    engine = build_engine(trusted)
    runner = await serve(create_app(engine), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http:
            for address in ("203.0.113.7", "203.0.113.8", "203.0.113.7"):
                headers = {"X-Forwarded-For": f"10.0.0.1, {address}"}
                async with http.get(f"{base}/go/youtube?channel=web", headers=headers,
                                    allow_redirects=False) as answer:
                    assert answer.status == 302
        (row,) = [r for r in await engine.store.stats() if r.kind == "link_click"]
        assert (row.channel, row.count) == ("web", 2), "two people behind the proxy, one twice"
    finally:
        await runner.cleanup()
        await engine.store.close()


async def test_a_click_from_every_channel_the_bot_knows_is_counted_under_that_channel(web_server):
    engine, base = web_server
    targets = ("youtube", "podcast", "facebook", "instagram")  # one person: a link each
    async with aiohttp.ClientSession() as http:
        for name, target in zip(CHANNELS, targets, strict=True):
            async with http.get(f"{base}/go/{target}?channel={name}",
                                allow_redirects=False) as answer:
                assert answer.status == 302
    clicks = {r.channel for r in await engine.store.stats() if r.kind == "link_click"}
    assert clicks == {"telegram", "discord", "web", "console"}
