"""The privacy promises of docs/privacy.md held against every copy the bot makes (issue 29,
findings 1 and 5): for each story every text column of every table is read past the store, on
SQLite and on PostgreSQL, and the person's name, email and platform id are looked for where the
promise says none is left. The person is on Telegram (the bot's
replies wait in the outbox while it refuses them) and every update is kept with its reply, as
a real one is."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from bot import cli
from bot.core.effects import Address, DeliveryFailed, StaffNotice
from bot.core.events import Event, EventKind, Reply
from bot.core.markup import plain
from bot.store.sql import PERSON_TABLES
from bot.turns.runner import TurnRunner
from tests.conftest import HIP_MOBILITY_RUN, TO_PAIN_QUESTIONS, wired

pytestmark = pytest.mark.every_store

PERSON = "7310458829"  # their Telegram user id
ADDRESS = Address("telegram", PERSON)
NAME, EMAIL = "Zebedee Quackenbush", "zebedee.quackenbush@example.org"
CONTACT_DETAILS = (NAME, "Zebedee", "Quackenbush", EMAIL)
# The answer each question of the contact form takes, in whatever order the form asks.
FORM_ANSWERS = {"contact_consent": "yes", "contact_name": NAME, "contact_method": EMAIL}


# -- reading every copy -----------------------------------------------------------------------

def text_cells(engine: TurnRunner) -> list[tuple[str, str]]:
    """("table.column", value) of every text cell of every table, read past the store."""
    if engine.settings.database_url is not None:
        with psycopg.connect(engine.settings.database_url.get_secret_value()) as db:
            columns = db.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
                " AND data_type IN ('text', 'character varying', 'json', 'jsonb')").fetchall()
            return [(f"{table}.{column}", str(value)) for table, column in columns
                    for (value,) in db.execute(f"SELECT {column} FROM {table}")
                    if value is not None]
    with contextlib.closing(sqlite3.connect(engine.store.path)) as db:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = [(table, row[1]) for table in tables
                   for row in db.execute(f"PRAGMA table_info({table})")
                   if row[2].upper() == "TEXT"]
        return [(f"{table}.{column}", str(value)) for table, column in columns
                for (value,) in db.execute(f"SELECT {column} FROM {table}")
                if value is not None]


def where_found(engine: TurnRunner, *needles: str) -> dict[str, set[str]]:
    """Each needle found in some text cell, with the columns holding it."""
    found: dict[str, set[str]] = {}
    for column, value in text_cells(engine):
        for needle in needles:
            if needle in value:
                found.setdefault(needle, set()).add(column)
    return found


# -- the person and the practice --------------------------------------------------------------

class Telegram:
    """The person's Telegram: takes the bot's messages while `up`; else they wait."""

    def __init__(self) -> None:
        self.up = True

    async def deliver(self, address: object, reply: Reply) -> None:
        if not self.up:
            raise DeliveryFailed("RetryAfter")


class StaffChat:
    """The practice's staff chat: posts each notice while `up`, remembering whom it is about
    (as Telegram's does); a `forgotten` notice blanks those instead."""

    def __init__(self, engine: TurnRunner) -> None:
        self.engine, self.up, self.posted = engine, True, 0

    async def notify(self, notice: StaffNotice) -> None:
        if not self.up:
            raise DeliveryFailed("NetworkError")
        if notice.redact:
            return
        self.posted += 1
        await self.engine.posted("staff-chat", [str(self.posted)], notice)


class Person:
    """Someone on Telegram: every message an update with its id, as the platform sends it."""

    def __init__(self, engine: TurnRunner) -> None:
        self.engine, self.updates = engine, 0
        self.last = Reply(messages=(), turn=0, state="")
        self.telegram = engine.outboxes["telegram"]
        assert isinstance(self.telegram, Telegram)

    async def says(self, *texts: str) -> None:
        for text in texts:
            await self._update(Event.from_text("telegram", PERSON, text))

    async def presses(self, choice_id: str) -> None:
        conv = await self.engine.store.load("telegram", PERSON)
        await self._update(Event("telegram", PERSON, EventKind.PRESS, choice_id=choice_id,
                                 turn=conv.turn if conv is not None else 0))

    async def _update(self, event: Event) -> None:
        self.updates += 1
        self.last = await self.engine.handle(replace(event, update_id=str(9_000 + self.updates)))
        if self.last.edit:  # as the Telegram channel does: the pressed message edited in place
            await self.engine.delivered(ADDRESS, self.last)
        await self.engine.flush(ADDRESS)  # and what waits sent after the turn

    async def state(self) -> str:
        conv = await self.engine.store.load("telegram", PERSON)
        return conv.state if conv is not None else ""

    async def fills_the_form(self, until: str = "contact_saved", refused: bool = True) -> None:
        """/contact, then each question the form asks answered, with consent, up to `until`;
        Telegram refuses the reply to the last answer when `refused` (it waits)."""
        await self.says("/contact")
        for _ in FORM_ANSWERS:
            state = await self.state()
            if state == until:
                return
            if refused and until == "contact_saved" and len(await self._answered()) == 2:
                self.telegram.up = False
            await self.says(FORM_ANSWERS[state])
        assert await self.state() == until

    async def _answered(self) -> list[str]:
        conv = await self.engine.store.load("telegram", PERSON)
        return [a.state for a in conv.history] if conv is not None else []


def telegram_bot(engine: TurnRunner, staff: bool = False) -> tuple[TurnRunner, StaffChat]:
    """A process running Telegram (and its staff chat), with Telegram refusing messages."""
    runner = wired(engine, queued=("telegram",), delivered=("telegram",),
                   staff_places=("telegram",) if staff else ())
    runner.outboxes["telegram"] = Telegram()
    chat = StaffChat(runner)
    if staff:
        runner.outboxes["staff:telegram"] = chat
    return runner, chat


# -- before the "yes": no copy anywhere --------------------------------------------------------

async def test_walking_away_at_the_consent_question_leaves_no_name_or_email_anywhere(engine):
    runner, _ = telegram_bot(engine)
    person = Person(runner)
    await person.says("/contact", NAME, EMAIL)  # typed wherever the form is
    assert await person.state() == "contact_consent"  # and they leave

    assert where_found(runner, *CONTACT_DETAILS) == {}


async def test_declining_consent_leaves_no_name_or_email_anywhere(engine):
    runner, _ = telegram_bot(engine, staff=True)
    person = Person(runner)
    await person.says("/contact", NAME, EMAIL, "no")
    assert await person.state() == "contact_declined"

    assert where_found(runner, *CONTACT_DETAILS) == {}


# -- after the "yes": withdraw and forget take every copy -------------------------------------

async def test_withdrawing_consent_leaves_no_name_or_email_anywhere(engine):
    runner, chat = telegram_bot(engine, staff=True)
    chat.up = False  # the lead notice waits for the staff chat
    person = Person(runner)
    await person.fills_the_form()
    kept = where_found(runner, *CONTACT_DETAILS)[EMAIL]
    assert {"leads.email", "updates.reply", "outbox.message"} <= kept  # the test sees them

    await person.says("/withdraw")

    assert where_found(runner, *CONTACT_DETAILS) == {}
    assert chat.posted == 0  # the lead notice is not posted after all
    consents = await runner.store.consents("telegram", PERSON)
    assert consents and all(c.withdrawn_at is not None for c in consents)  # the record stays


@pytest.mark.parametrize("store_kind", ["sqlite"])  # about SQLite's own files
async def test_withdrawing_consent_leaves_no_name_or_email_in_the_database_files(engine):
    runner, chat = telegram_bot(engine, staff=True)
    chat.up = False
    person = Person(runner)
    await person.fills_the_form()
    await person.says("/withdraw")
    assert await runner.store.leads() == []

    path = Path(runner.store.path)
    for file in (path, Path(f"{path}-wal")):
        content = file.read_bytes() if file.exists() else b""
        for detail in CONTACT_DETAILS:
            assert detail.encode() not in content, f"{detail} left in {file.name}"


async def test_withdrawing_half_way_through_the_form_leaves_no_name_anywhere(engine):
    runner, chat = telegram_bot(engine, staff=True)
    person = Person(runner)
    await person.fills_the_form(until="contact_method")  # the name given, not the email
    assert NAME in where_found(runner, NAME)

    await person.says("/withdraw")

    assert where_found(runner, *CONTACT_DETAILS) == {}
    conv = await runner.store.load("telegram", PERSON)
    assert conv is not None and conv.flow is None  # the form is closed: no email taken now
    assert chat.posted == 0  # staff never heard of them, and are not told now


@pytest.mark.parametrize("hours", [23.5, 24.5])
async def test_a_form_left_half_filled_keeps_the_name_a_day_at_most(engine, hours):
    runner, _ = telegram_bot(engine)
    person = Person(runner)
    started = runner.clock()
    await person.fills_the_form(until="contact_method")  # the name given, then gone
    runner.clock = lambda: started + hours * 3600
    closed = (await runner.purge_expired())["unfinished contact forms"]

    assert closed == (hours > 24)
    assert (where_found(runner, NAME) == {}) == (hours > 24)


async def test_forget_leaves_no_copy_even_with_a_staff_notice_waiting(engine):
    runner, chat = telegram_bot(engine, staff=True)
    person = Person(runner)
    await person.fills_the_form(refused=False)
    assert chat.posted == 1  # the lead notice, posted
    chat.up = False
    await person.says("/talk")  # its notice waits for the staff chat
    assert where_found(runner, f"telegram:{PERSON}")

    await person.says("/forget")
    await person.presses("forget_yes")

    assert where_found(runner, *CONTACT_DETAILS, PERSON) == {}


# -- /mydata shows every table that holds something of the person -----------------------------

# The section of /mydata's download for each table kept by (channel, user id).
SHOWN_AS = {"conversations": "conversation", "events": "events", "leads": "leads",
            "relays": "staff_notices", "consents": "consents", "updates": "replies_kept",
            "outbox": "waiting_messages", "booking_refs": "booking_links",
            "followups": "followups", "lead_notes": "staff_notes"}


def tables_holding(engine: TurnRunner, user_id: str) -> set[str]:
    """The tables with a row about the person (staff rows name them `telegram:<id>`)."""
    return {column.split(".")[0] for column, value in text_cells(engine)
            if column.endswith(".user_id") and value in (user_id, f"telegram:{user_id}")}


async def test_mydata_shows_something_of_every_table_that_holds_the_person(
        engine, monkeypatch, capsys):
    runner, chat = telegram_bot(engine, staff=True)
    person = Person(runner)
    await person.says("/start")
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN, "/remind", "remind_check_in"):
        await person.presses(choice)
    await person.fills_the_form()  # its last reply waits for Telegram
    chat.up = False
    await person.says("/talk")  # its notice waits for the staff chat
    await runner.store.add_lead_note("telegram", PERSON, "note", "Left a voicemail",
                                     "staff@practice.test", runner.clock())
    holding = tables_holding(runner, PERSON)
    assert set(SHOWN_AS) == set(PERSON_TABLES) and holding == set(PERSON_TABLES)

    for name, value in (("BOT_DATA_DIR", str(runner.settings.data_dir)),
                        ("BOT_DATABASE_URL", runner.settings.database_url)):
        if value is not None:
            monkeypatch.setenv(name, value if isinstance(value, str)
                               else value.get_secret_value())
    command = ["mydata", "--user", PERSON, "--channel", "telegram", "--json"]
    assert await asyncio.to_thread(cli.main, command) == 0  # its own event loop
    shown = json.loads(capsys.readouterr().out)
    assert {table for table, key in SHOWN_AS.items() if shown.get(key)} == holding
    conv = await runner.store.load("telegram", PERSON)
    assert conv is not None and shown["conversation"]["facts"] == conv.facts
    assert any(EMAIL in reply["text"] for reply in shown["replies_kept"])
    assert {message["kind"] for message in shown["waiting_messages"]} == {"to you", "staff"}
    assert shown["staff_notes"][0]["text"] == "Left a voicemail"

    await person.says("/mydata")
    text = "\n".join(plain(message.text) for message in person.last.messages)
    for said in ("Messages to you still waiting to be sent", "still waiting to be posted",
                 "My replies kept", "Booking links made", "Left a voicemail",
                 "Check-ins you asked for", "posted to the practice's private staff chat"):
        assert said in text, said
    assert "started knee\n- " in text  # one record a line
