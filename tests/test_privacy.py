"""Health details kept to the person and the practice: private files, quiet logs, a forget that
leaves nothing, /mydata, consent records, /withdraw, the audit, and a web server that holds up.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import stat
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import psycopg
import pytest

from bot import cli
from bot.app import build_engine
from bot.channels.console import say
from bot.core.effects import StaffNotice
from bot.core.events import Event, EventKind
from bot.core.records import CONTACTED, STORED
from bot.handoff.reports import export_leads
from bot.server import SERVER_NAME, create_app, serve
from bot.settings import ROOT, Settings, load_settings
from bot.store.sqlite import SQLiteStore
from bot.tools.check import check_all, check_data_folder
from bot.tools.client import DialogClient
from bot.tools.transcripts import run_all
from bot.turns.runner import TurnRunner
from tests.conftest import (
    TO_HOT_SWOLLEN,
    answer_safety_questions_no,
    finish_with_hip_mobility,
    wired,
)
from tests.harness.logs import ids_used

NAME = "Zebedee Quackenbush"
EMAIL = "zebedee.quackenbush@example.org"
PHONE_TYPED, PHONE = "(415) 555-2671", "+14155552671"
CONTACT_DETAILS = (NAME, "Zebedee", "Quackenbush", EMAIL, PHONE, "555-2671")
FORGOTTEN_TEXT = "[deleted at the person's request]"


class StaffPlace:
    """A staff place that does what Telegram and Discord must: remember every notice it posts
    (`save_relay`), and for a `forgotten` notice edit its own earlier ones instead of posting."""

    def __init__(self, engine: TurnRunner, place: str = "staff-chat") -> None:
        self.engine, self.place = engine, place
        self.posted: dict[str, str] = {}  # message id -> text, as staff see it
        self.notices: list[StaffNotice] = []

    async def notify(self, notice: StaffNotice) -> None:
        self.notices.append(notice)
        if notice.kind == "forgotten":
            for place, message_id in notice.redact:
                if place == self.place:
                    self.posted[message_id] = notice.text
            return
        message_id = str(len(self.posted) + 1)
        self.posted[message_id] = notice.text
        await self.engine.store.save_relay(self.place, message_id, notice.channel,
                                           notice.user_id)


def staffed(engine: TurnRunner) -> tuple[TurnRunner, StaffPlace]:
    """A runner with a staff place, which posts every notice it is sent."""
    runner = wired(engine, staff_places=("test",))
    place = StaffPlace(runner)
    runner.outboxes["staff:test"] = place
    return runner, place


async def leave_contact_details(person: DialogClient, contact: str = EMAIL) -> None:
    await person.send("/contact")
    assert person.last.state == "contact_consent"  # consent first: nothing typed yet
    await person.click("consent")
    await person.send(NAME)
    await person.send(contact)
    assert person.last.state == "contact_saved"


def database_files(engine: TurnRunner) -> dict[str, bytes]:
    path = Path(engine.store.path)
    files = [path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal"))]
    return {file.name: file.read_bytes() for file in files if file.exists()}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- private files ----------------------------------------------------------------------------


async def test_data_folder_and_database_files_are_private_even_under_umask_022(tmp_path):
    previous = os.umask(0o022)
    try:
        folder = tmp_path / "var" / "lib" / "bot"
        engine = build_engine(load_settings(data_dir=folder))
        person = DialogClient(engine, "alex")
        await person.send("/start")
        await person.click("begin")
    finally:
        os.umask(previous)
    database = Path(engine.store.path)
    assert {mode(folder), mode(folder.parent), mode(folder.parent.parent)} == {0o700}
    assert (database.parent, mode(database)) == (folder, 0o600)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{database}{suffix}")
        assert side.exists() and mode(side) == 0o600, suffix
    await engine.store.close()


async def test_a_database_made_readable_by_an_older_version_is_made_private(tmp_path):
    database = tmp_path / "bot.sqlite3"
    sqlite_store = SQLiteStore(database)
    await sqlite_store.close()
    os.chmod(database, 0o644)
    sqlite_store = SQLiteStore(database)
    assert mode(database) == 0o600
    await sqlite_store.close()


def test_check_warns_when_other_users_can_read_the_data_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    assert check_data_folder(folder, folder / "bot.sqlite3") == []
    os.chmod(folder, 0o755)
    settings = load_settings(data_dir=folder)
    engine = build_engine(settings, SQLiteStore(":memory:"))
    (problem,) = [p for p in check_all(engine) if p.field == "data_dir"]
    assert problem.warning and "can be read by other users" in str(problem)
    assert "chmod 700" in str(problem) and "755" in str(problem)


# -- logs -------------------------------------------------------------------------------------


def leaks(record: logging.LogRecord, ids: set[str]) -> list[str]:
    """What a log line gives away: an id or a detail in what was filled in, a distinctive id
    (one with an underscore) or a contact detail anywhere in it."""
    message = record.getMessage()
    found = [detail for detail in CONTACT_DETAILS if detail.lower() in message.lower()]
    args = record.args if isinstance(record.args, tuple) else (record.args or ())
    filled = " ".join(str(arg) for arg in args)
    words = set(re.findall(r"[\w']+", filled.lower()))
    found += sorted(ids & words)
    distinctive = {i for i in ids if "_" in i}
    found += sorted(distinctive & set(re.findall(r"[\w']+", message.lower())))
    return found


async def test_logs_at_debug_carry_no_state_answer_name_or_contact(settings, caplog):
    caplog.set_level(logging.DEBUG)
    # Every transcript: every red flag, every answer, every path the clinical tests walk.
    results = await run_all([ROOT / "tests" / "transcripts"], settings)
    assert all(result.passed for result in results)
    engine, _ = staffed(build_engine(settings))
    # On the console channel, as `python -m bot chat` and `say` run it.
    out = io.StringIO()
    for text in ("/start", "1", "1", "no", "yes", "/contact", "yes", NAME, PHONE_TYPED,
                 "/mydata", "/withdraw", "talk to a person", "my knee hurts on stairs",
                 "/forget", "yes"):
        await say(engine, "console-person", text, as_json=False, out=out)
    # A whole screening to a result, a lead, a relay, then everything taken back.
    person = DialogClient(engine, "alex")
    await answer_safety_questions_no(person)
    await finish_with_hip_mobility(person)
    await leave_contact_details(person)
    for text in ("talk to a person", "hello from Zebedee", "/mydata", "/withdraw", "/forget"):
        await person.send(text)
    await person.click("forget_yes")
    await engine.store.close()

    ids = ids_used(engine)
    found = {record.getMessage(): leaks(record, ids) for record in caplog.records}
    assert {line: leaked for line, leaked in found.items() if leaked} == {}
    assert "Zebedee" in out.getvalue()  # the person saw their own details; the log did not


# -- forget -----------------------------------------------------------------------------------


@pytest.mark.parametrize("store_kind", ["sqlite"])  # about SQLite's files, its log above all
async def test_forget_leaves_no_trace_of_name_email_or_phone_in_the_database_files(engine):
    person = DialogClient(engine, "zq-4711")
    await answer_safety_questions_no(person)
    await leave_contact_details(person)
    await leave_contact_details(person, PHONE_TYPED)
    before = b"".join(database_files(engine).values())
    assert EMAIL.encode() in before and NAME.encode() in before  # the test can see them

    await person.send("/forget")
    await person.click("forget_yes")

    files = database_files(engine)  # read while the bot still runs, its connection open
    assert files.get("bot.sqlite3-wal", b"") == b""
    for name, content in files.items():
        for detail in (*CONTACT_DETAILS, "zq-4711"):
            assert detail.encode() not in content, f"{detail} left in {name}"


def every_row(engine: TurnRunner) -> list[str]:
    """Every row of every table, as text, read past the store (SQLite or PostgreSQL)."""
    if engine.settings.database_url is not None:
        with psycopg.connect(engine.settings.database_url.get_secret_value()) as db:
            tables = [row[0] for row in db.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()")]
            return [str(row[0]) for table in tables
                    for row in db.execute(f"SELECT t::text FROM {table} AS t")]
    with contextlib.closing(sqlite3.connect(engine.store.path)) as db:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [repr(row) for table in tables for row in db.execute(f"SELECT * FROM {table}")]


async def test_forget_leaves_no_row_with_the_name_email_phone_or_user_id(engine):
    person = DialogClient(engine, "zq-4711")
    other = DialogClient(engine, "someone-else")
    await other.send("/start")
    await answer_safety_questions_no(person)
    await leave_contact_details(person)
    queued = wired(engine, queued=("test",))  # the reply waits in the outbox, the update kept
    await queued.handle(Event("test", "zq-4711", EventKind.COMMAND, text="/mydata",
                              command="mydata", update_id="u-1"))
    assert await engine.store.undelivered("test", "zq-4711") == 1
    before = "\n".join(every_row(engine))
    for detail in (EMAIL, NAME, "zq-4711"):
        assert detail in before  # the test can see them

    await person.send("/forget")
    await person.click("forget_yes")

    after = "\n".join(every_row(engine))
    for detail in (*CONTACT_DETAILS, "zq-4711"):
        assert detail not in after, f"{detail} left in a row"
    assert "someone-else" in after  # only that person was forgotten


async def test_forget_asks_staff_places_to_blank_every_earlier_notice(engine):
    engine, place = staffed(engine)
    person = DialogClient(engine, "alex", channel="telegram")
    await leave_contact_details(person)
    await person.send("talk to a person")
    await person.send("it clicks when I kneel")
    assert len(place.posted) == 3 and NAME in place.posted["1"]

    await person.send("/forget")
    await person.click("forget_yes")

    forgotten = place.notices[-1]
    assert forgotten.kind == "forgotten" and forgotten.text == FORGOTTEN_TEXT
    assert sorted(forgotten.redact) == [("staff-chat", m) for m in ("1", "2", "3")]
    assert set(place.posted.values()) == {FORGOTTEN_TEXT}  # and nothing new was posted
    assert await engine.store.relay_messages("telegram", "alex") == []


# -- /mydata ----------------------------------------------------------------------------------


async def test_person_sees_everything_stored_about_them_in_one_message(engine):
    person = DialogClient(engine, "alex")
    await answer_safety_questions_no(person)
    await finish_with_hip_mobility(person)
    await leave_contact_details(person)
    reply = await person.send("/mydata")
    text = person.text
    assert "Everything stored about you" in text
    assert "Pain where: Back of the knee" in text and "Hip squat: Hips feel tight" in text
    assert "Safety: New redness, heat or swelling after knee surgery" in text
    assert "Likely contributors: Hip mobility" in text
    assert NAME in text and EMAIL in text
    assert f"wording version {engine.dialog.consent_versions['contact']}" in text
    assert "started knee" in text and "/forget" in text and "/withdraw" in text
    assert reply.state == "contact_saved"  # the person keeps their place
    await person.send("what do you know about me")
    assert "Everything stored about you" in person.text

    await person.send("/forget")
    await person.click("forget_yes")
    await person.send("/mydata")
    assert "Nothing at all" in person.text


def test_console_mydata_prints_the_same_as_json(settings, monkeypatch, capsys):
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    for text in ("/contact", "yes", NAME, EMAIL):
        assert cli.main(["say", "--user", "sam", text]) == 0
    capsys.readouterr()
    assert cli.main(["mydata", "--user", "sam", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["channel"] == "console" and data["user_id"] == "sam"
    (lead,) = data["leads"]
    assert (lead["name"], lead["email"]) == (NAME, EMAIL)
    assert {c["kind"] for c in data["consents"]} == {CONTACTED, STORED}
    assert [e["kind"] for e in data["events"]] == ["lead"], "a contact form is no screening"
    assert cli.main(["mydata", "--user", "sam"]) == 0
    text = capsys.readouterr().out
    assert "Everything stored about you" in text and EMAIL in text and "**" not in text


# -- consent ----------------------------------------------------------------------------------


async def test_each_consent_is_kept_with_its_wording_version_time_and_channel(settings):
    engine = build_engine(settings)
    engine.clock = lambda: 1_750_000_000.0
    person = DialogClient(engine, "alex", channel="discord")
    await leave_contact_details(person)
    version = engine.dialog.consent_versions["contact"]
    assert re.fullmatch(r"3\+[0-9a-f]{8}", version)
    consents = await engine.store.consents("discord", "alex")
    assert [(c.kind, c.version, c.at, c.channel, c.withdrawn_at) for c in consents] == [
        (CONTACTED, version, 1_750_000_000.0, "discord", None),
        (STORED, version, 1_750_000_000.0, "discord", None),
    ]
    header, row = export_leads(await engine.store.leads(), "csv").splitlines()
    assert header.endswith(",consent_version,progress") and row.endswith(f",{version},")
    await engine.store.close()


async def test_changing_the_consent_wording_changes_its_version(tmp_path):
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shipped = build_engine(load_settings(data_dir=tmp_path / "data"), SQLiteStore(":memory:"))
    wording = tmp_path / "templates" / "contact" / "contact_consent.j2"
    wording.write_text(wording.read_text().replace("First, to be sure", "To be sure"))
    edited = build_engine(load_settings(data_dir=tmp_path / "data",
                                        templates_dir=tmp_path / "templates"),
                          SQLiteStore(":memory:"))
    assert shipped.dialog.consent_versions["contact"] != edited.dialog.consent_versions["contact"]
    assert edited.dialog.consent_versions["contact"].startswith("3+")


async def test_withdrawing_consent_is_one_command_and_deletes_the_contact_details(engine):
    engine, place = staffed(engine)
    person = DialogClient(engine, "alex")
    await answer_safety_questions_no(person)
    await leave_contact_details(person)
    reply = await person.send("/withdraw")
    assert "withdrawn your consent" in person.text and reply.state == "contact_saved"
    assert await engine.store.leads() == []
    consents = await engine.store.consents("test", "alex")
    assert len(consents) == 2 and all(c.withdrawn_at is not None for c in consents)
    notice = place.notices[-1]
    assert notice.kind == "consent_withdrawn" and "don't contact them" in notice.text
    assert NAME not in notice.text and EMAIL not in notice.text
    await person.send("don't contact me")
    assert "nothing to withdraw" in person.text
    assert place.notices[-1] is notice


# -- audit ------------------------------------------------------------------------------------


async def screen_alex_twice(engine: TurnRunner) -> None:
    """A finished knee check and a lead on Telegram; a red flag on Discord."""
    person = DialogClient(engine, "alex", channel="telegram")
    await answer_safety_questions_no(person)
    await finish_with_hip_mobility(person)
    await leave_contact_details(person)  # a new flow: the screening's answers stay on record
    flagged = DialogClient(engine, "alex", channel="discord")
    await flagged.send("/start")
    for choice in (*TO_HOT_SWOLLEN, "yes"):
        await flagged.click(choice)
    await engine.store.close()


def test_audit_shows_the_flow_version_answers_by_question_and_the_outcome(
    settings, monkeypatch, capsys
):
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    engine = build_engine(settings)
    asyncio.run(screen_alex_twice(engine))

    assert cli.main(["audit", "alex", "--channel", "telegram"]) == 0
    report = capsys.readouterr().out
    version = engine.flows["knee"].version
    assert f"Latest finished screening: knee v{version}" in report
    assert "concluded: result: hip_mobility" in report
    assert re.search(r"rf_after_procedure\s+no \(No\)", report)
    assert re.search(r"hip_squat\s+hips_tight \(Hips feel tight", report)
    assert f"finished knee result v{version}" in report and "Consent contacted" in report
    assert cli.main(["audit", "alex"]) == 0
    both = capsys.readouterr().out
    assert "on discord" in both and "on telegram" in both
    assert "concluded: red flag hot_swollen" in both and "urgency emergency" in both
    assert cli.main(["audit", "nobody"]) == 1


# -- web server -------------------------------------------------------------------------------


async def start_server(settings: Settings, **limits: float) -> tuple[TurnRunner, object, int]:
    engine = build_engine(replace(settings, public_url="https://bot.test"))
    runner = await serve(create_app(engine), "127.0.0.1", 0, **limits)
    return engine, runner, runner.addresses[0][1]


@pytest.fixture
async def server(settings: Settings):
    engine, runner, port = await start_server(settings, header_timeout=0.5)
    yield engine, port
    await runner.cleanup()
    await engine.store.close()


async def test_a_client_that_trickles_its_headers_is_cut_off_in_time(server):
    _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    cut_off = asyncio.create_task(reader.read())  # ends when the server drops the connection
    started = time.monotonic()
    for byte in b"GET /healthz HTTP/1.1\r\nHost: bot.test\r\nX-Slow: " + b"z" * 200:
        if cut_off.done():
            break
        with contextlib.suppress(ConnectionError):
            writer.write(bytes([byte]))
            await writer.drain()
        await asyncio.sleep(0.02)
    assert cut_off.done() and time.monotonic() - started < 2.0
    assert cut_off.exception() is not None or cut_off.result() == b""  # and no answer
    writer.close()


async def test_a_body_that_trickles_in_is_answered_with_a_timeout(server, monkeypatch):
    monkeypatch.setattr("bot.server.BODY_TIMEOUT", 0.3)
    _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /healthz HTTP/1.1\r\nHost: bot.test\r\nContent-Length: 100\r\n\r\nab")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(200), 3)
    assert answer.startswith(b"HTTP/1.1 408")
    writer.close()


async def test_connections_over_the_cap_are_refused(settings):
    engine, runner, port = await start_server(settings, max_connections=20, header_timeout=30)
    held = []
    for _ in range(25):
        held.append(await asyncio.open_connection("127.0.0.1", port))
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.1)
    refused = [r.at_eof() or r.exception() is not None for r, _ in held]
    assert refused == [False] * 20 + [True] * 5
    for _, writer in held[:20]:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot.test\r\n\r\n")
    assert all([(await r.readline()).startswith(b"HTTP/1.1 200") for r, _ in held[:20]])
    for _, writer in held:
        writer.close()
    await runner.cleanup()
    await engine.store.close()


async def test_three_hundred_opens_of_the_booking_link_count_as_one_click(server):
    engine, port = server
    person = DialogClient(engine, "alex", channel="telegram")
    reply = await person.send("/book")
    (link,) = reply.messages[0].links
    local = f"http://127.0.0.1:{port}" + link.url.removeprefix("https://bot.test")
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            async with http.get(local, allow_redirects=False) as answer:
                assert answer.status == 302
    clicks = [r for r in await engine.store.stats() if r.kind == "link_click"]
    assert [(r.channel, r.detail, r.count) for r in clicks] == [("telegram", "book", 1)]
    other = (await DialogClient(engine, "kim", channel="telegram").send("/book")).messages[0]
    other_url = f"http://127.0.0.1:{port}" + other.links[0].url.removeprefix("https://bot.test")
    async with aiohttp.ClientSession() as http, http.get(other_url, allow_redirects=False):
        pass
    (row,) = [r for r in await engine.store.stats() if r.kind == "link_click"]
    assert row.count == 2  # another person's click counts


async def test_links_without_a_valid_token_count_once_per_address_and_day(server):
    engine, port = server
    async with aiohttp.ClientSession() as http:
        for token in ["", "forged.token", *[""] * 100]:
            url = f"http://127.0.0.1:{port}/go/book?channel=telegram&t={token}"
            async with http.get(url, allow_redirects=False) as answer:
                assert answer.status == 302
    (row,) = [r for r in await engine.store.stats() if r.kind == "link_click"]
    assert row.count == 1


async def test_the_server_header_names_no_version(server):
    _, port = server
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/go/book", "/nowhere"):
            async with http.get(f"http://127.0.0.1:{port}{path}",
                                allow_redirects=False) as answer:
                assert answer.headers["Server"] == SERVER_NAME
