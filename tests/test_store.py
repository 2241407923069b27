"""The store contract, on SQLite and on PostgreSQL alike: a turn is all or nothing and holds the
person's lock across store objects (processes, replicas); updates are remembered once; the
outbox keeps order, leases and retries; forget and purge delete what they must and no more;
migrations run once, whoever opens the database first. Then the engine's exactly-once rules on
top: a resent update is answered, not applied; a late one is not applied; a typed answer to a
question still on its way is not applied. And its at-least-once rules across processes: a reply
claimed with its turn is sent by that process, or by another once the claim ends; what another
queued behind it meanwhile follows it, in order, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import pytest

from bot.app import build_engine
from bot.core.conversation import Conversation
from bot.core.effects import Address, DeliveryFailed, Outgoing
from bot.core.events import Choice, Event, EventKind, Link, Message, Reply
from bot.core.records import Consent, Followup, Lead
from bot.settings import load_settings
from bot.store import migrations
from bot.store.base import TurnStart
from bot.store.postgres import PostgresStore
from bot.store.sql import FIRST_SEND_GRACE, PERSON_TABLES, UPDATES_KEPT_FOR, Queries
from bot.store.sqlite import SQLiteStore
from bot.tools.client import DialogClient
from bot.turns.outbox import SEND_SHARE, Claim, Deliveries
from bot.turns.runner import TurnRunner
from bot.turns.wiring import Wiring
from tests.conftest import answer_safety_questions_no, wired
from tests.postgres import PostgresServer

NOW = 1_000_000.0
DUE = NOW + FIRST_SEND_GRACE  # when a new message becomes the background sender's
ALEX, SAM = Address("test", "alex"), Address("test", "sam")
ALEX_ELSEWHERE = Address("telegram", "alex")
MESSAGE = Message("Which knee?",
                  (Choice("left", "Left"), Choice("right", "Right", style="primary")),
                  (Link("Book", "https://example.org/book"),))
DUPLICATE_KEY = (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)
pytestmark = pytest.mark.every_store  # the store's contract: each test on SQLite and PostgreSQL
WAITS = 0.2  # seconds a turn is held open to show another one waits for it
LEASE = 30.0  # seconds a claim lasts

Store = SQLiteStore | PostgresStore
SCHEMAS = itertools.count(1)


class Boom(Exception):
    """Raised inside a turn: everything it did must be rolled back."""


class Database:
    """One database for a test (on PostgreSQL a schema of its own): stores opened on it, closed
    at the end, and reads past them."""

    def __init__(self, kind: str, location: str) -> None:
        self.kind, self.location = kind, location
        self.opened: list[Store] = []

    async def store(self) -> Store:
        """Another store object on the same database: its own connection(s), as another
        process or replica would have."""
        store: Store = (SQLiteStore(self.location) if self.kind == "sqlite"
                        else PostgresStore(self.location))
        self.opened.append(store)
        await store.open()
        return store

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a query (`?` placeholders) on a connection of its own, outside any store."""
        if self.kind == "sqlite":
            with contextlib.closing(sqlite3.connect(self.location)) as db:
                return db.execute(sql, params).fetchall()
        with psycopg.connect(self.location) as db:
            return db.execute(sql.replace("?", "%s"), params).fetchall()  # type: ignore[arg-type]

    def rows_about(self, address: Address) -> dict[str, int]:
        """How many rows each table holds about one person."""
        return {table: self.query(f"SELECT count(*) FROM {table}"
                                  " WHERE channel = ? AND user_id = ?", tuple_of(address))[0][0]
                for table in PERSON_TABLES}


def tuple_of(address: Address) -> tuple[str, str]:
    return (address.channel, address.user_id)


@pytest.fixture(scope="module")
def postgres_database(postgres_server: PostgresServer) -> str:
    """One database for this module's store tests; each test has a schema of its own in it."""
    return postgres_server.database()


@pytest.fixture
def postgres_schema(postgres_database: str) -> str:
    """A URL on a new, empty schema: a fresh database as the store sees it, made in
    milliseconds (a new database takes a checkpoint)."""
    name = f"test_{next(SCHEMAS)}"
    with psycopg.connect(postgres_database, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {name}")
    return f"{postgres_database}?options=-csearch_path%3D{name}"


@pytest.fixture
async def database(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
                   ) -> AsyncIterator[Database]:
    location = (str(tmp_path / "bot.sqlite3") if store_kind == "sqlite"
                else request.getfixturevalue("postgres_schema"))
    database = Database(store_kind, location)
    yield database
    for store in database.opened:
        await store.close()


@pytest.fixture
async def store(database: Database) -> Store:
    return await database.store()


def lead_of(address: Address) -> Lead:
    return Lead(address.channel, address.user_id, "Sam Rivera", "sam@example.org", "", "",
                "knee", ("hip_mobility",), None, NOW)


async def everything_about(store: Any, address: Address, update_id: str = "u-1") -> None:
    """One of each kind of row a turn can write about a person."""
    channel, user_id = tuple_of(address)
    await store.save(Conversation(channel, user_id, flow="knee", state="pain_where", turn=3))
    await store.record("started", channel, user_id, "knee", at=NOW)
    await store.save_lead(lead_of(address))
    await store.save_consent(Consent(channel, user_id, "contacted", "v1", NOW))
    await store.save_relay("staff", f"notice-{channel}-{user_id}", channel, user_id)
    await store.enqueue(address, 3, MESSAGE, NOW)
    await store.remember_update(channel, update_id, user_id, '{"messages": []}', NOW)
    await store.save_booking_ref(f"ref-{channel}-{user_id}", channel, user_id, "knee", NOW)
    await store.schedule_followup(Followup(0, channel, user_id, "knee", "check_in", NOW + 60,
                                           baseline={"baseline_pain": 6}, created_at=NOW))
    await store.add_lead_note(channel, user_id, "status", "contacted", "pat@example.org", NOW)


async def saved_in_a_turn(store: Store, address: Address, update_id: str = "u-1") -> None:
    async with store.turn(*tuple_of(address)) as turn:
        await everything_about(turn, address, update_id)


async def reply_to_update(store: Any, channel: str, update_id: str) -> str | None:
    """The stored reply of an update already applied, as a turn reads it."""
    return (await store.load_turn(channel, "alex", update_id)).earlier_reply


ONE_OF_EACH = dict.fromkeys(PERSON_TABLES, 1)
NONE = dict.fromkeys(PERSON_TABLES, 0)


# -- a turn: all or nothing -------------------------------------------------------------------


async def test_a_turn_commits_everything_together_and_nothing_shows_before(database, store):
    other = await database.store()
    async with store.turn("test", "alex") as turn:
        await everything_about(turn, ALEX)
        assert database.rows_about(ALEX) == NONE, "seen by others before the turn committed"
        assert await other.load("test", "alex") is None
    assert database.rows_about(ALEX) == ONE_OF_EACH
    assert (await other.load("test", "alex")).turn == 3
    assert await reply_to_update(other, "test", "u-1") == '{"messages": []}'
    assert await other.undelivered("test", "alex") == 1


async def test_a_turn_that_raises_leaves_nothing(database, store):
    with pytest.raises(Boom):
        async with store.turn("test", "alex") as turn:
            await everything_about(turn, ALEX)
            raise Boom
    assert database.rows_about(ALEX) == NONE
    assert await store.load("test", "alex") is None
    assert await reply_to_update(store, "test", "u-1") is None
    assert await store.events("test", "alex") == []
    assert await store.leads() == [] and await store.consents("test", "alex") == []
    assert await store.undelivered("test", "alex") == 0
    await saved_in_a_turn(store, ALEX)  # the store works on after a rollback
    assert database.rows_about(ALEX) == ONE_OF_EACH


async def test_a_forget_in_a_turn_that_raises_forgets_nothing(database, store):
    await saved_in_a_turn(store, ALEX)
    with pytest.raises(Boom):
        async with store.turn("test", "alex") as turn:
            await turn.delete("test", "alex")
            assert await turn.load("test", "alex") is None
            raise Boom
    assert database.rows_about(ALEX) == ONE_OF_EACH


async def test_a_message_queued_outside_a_turn_whose_insert_fails_marks_nothing(store):
    """Queueing is two statements (mark the waiting ones, insert): outside a turn they are
    one transaction on both stores, so a failed insert leaves the waiting one unmarked."""
    waiting = await store.enqueue(ALEX, 1, Message("one"), NOW)
    with pytest.raises((OverflowError, psycopg.errors.NumericValueOutOfRange)):
        await store.enqueue(ALEX, 2**63, Message("two"), NOW)  # no turn number that large
    assert await store.undelivered("test", "alex") == 1
    assert not await store.sent(waiting), "marked as having a message behind it"


async def test_a_sign_in_whose_session_is_refused_keeps_the_expired_ones(database, store):
    """Starting a session drops the expired ones, then inserts: all or nothing on both stores."""
    await store.add_staff("pat@example.org", "hash", NOW)
    await store.start_staff_session("old", "pat@example.org", "csrf", NOW, NOW + 1)
    await store.start_staff_session("same", "pat@example.org", "csrf", NOW, NOW + 600)
    with pytest.raises(DUPLICATE_KEY):
        await store.start_staff_session("same", "pat@example.org", "csrf", NOW + 60, NOW + 600)
    assert database.query("SELECT token_hash FROM staff_sessions ORDER BY 1") == [
        ("old",), ("same",)]


WRITE = re.compile(r"""["'](?:INSERT|UPDATE|DELETE)\b""")  # a statement that writes


def test_every_store_method_that_writes_more_than_once_is_marked_atomic():
    """What makes the two tests above hold for the next method too: one that writes with
    several statements is `@atomic`, or it would commit half of itself on either store."""
    for name, method in inspect.getmembers(Queries, inspect.iscoroutinefunction):
        writes = len(WRITE.findall(inspect.getsource(inspect.unwrap(method))))
        if not name.startswith("_") and writes > 1:
            assert hasattr(method, "__wrapped__"), f"{name} writes {writes} times, not @atomic"


async def test_an_update_is_remembered_with_its_reply_per_channel(store):
    assert await reply_to_update(store, "test", "42") is None
    async with store.turn("test", "alex") as turn:
        await turn.remember_update("test", "42", "alex", '{"turn": 1}', NOW)
    assert await reply_to_update(store, "test", "42") == '{"turn": 1}'
    assert await reply_to_update(store, "telegram", "42") is None  # ids are per channel
    assert await reply_to_update(store, "test", "43") is None


async def test_a_turn_starts_from_its_update_conversation_and_waiting_messages(store):
    assert await store.load_turn("test", "alex", "7") == TurnStart(None, None, 0)
    async with store.turn("test", "alex") as turn:
        await turn.save(Conversation("test", "alex", turn=4))
        await turn.enqueue(ALEX, 4, MESSAGE, NOW)
        await turn.enqueue(ALEX_ELSEWHERE, 4, MESSAGE, NOW)
        await turn.remember_update("test", "7", "alex", '{"turn": 4}', NOW)
    start = await store.load_turn("test", "alex", "7")
    assert (start.earlier_reply, start.conversation.turn, start.undelivered) == (
        '{"turn": 4}', 4, 1)
    assert (await store.load_turn("test", "alex")).earlier_reply is None


async def test_remembering_an_update_twice_fails_and_takes_its_whole_turn_back(database, store):
    async with store.turn("test", "alex") as turn:
        await turn.remember_update("test", "42", "alex", "first", NOW)
    with pytest.raises(DUPLICATE_KEY):
        async with store.turn("test", "alex") as turn:
            await turn.save(Conversation("test", "alex", turn=9))
            await turn.record("started", "test", "alex", "knee", at=NOW)
            await turn.enqueue(ALEX, 9, MESSAGE, NOW)
            await turn.remember_update("test", "42", "alex", "second", NOW)
    assert await reply_to_update(store, "test", "42") == "first"
    assert await store.load("test", "alex") is None
    assert database.rows_about(ALEX) == {**NONE, "updates": 1}
    async with store.turn("test", "alex") as turn:  # and the next turn goes through
        await turn.save(Conversation("test", "alex", turn=10))
    assert (await store.load("test", "alex")).turn == 10


# -- a turn holds the person's lock across store objects --------------------------------------


def in_the_background(runs_in_a_thread: bool, make: Callable[[], Awaitable[None]]
                      ) -> asyncio.Task:
    """Run a turn beside the test's: in a thread of its own when it would block the event loop
    (SQLite waits for another connection's write lock synchronously), else as a task."""
    if runs_in_a_thread:
        return asyncio.create_task(asyncio.to_thread(asyncio.run, make()))
    return asyncio.ensure_future(make())


@pytest.mark.parametrize("objects", ["one store", "two stores"])
async def test_turns_for_one_person_run_one_after_the_other(database, store, store_kind, objects):
    other = store if objects == "one store" else await database.store()
    entered = threading.Event()
    seen: list[int] = []

    async def second_turn() -> None:
        async with other.turn("test", "alex") as turn:
            entered.set()
            conversation = await turn.load("test", "alex")
            seen.append(conversation.turn)
            conversation.turn += 1
            await turn.save(conversation)

    threaded = store_kind == "sqlite" and other is not store
    async with store.turn("test", "alex") as turn:
        await turn.save(Conversation("test", "alex", turn=1))
        waiting = in_the_background(threaded, second_turn)
        await asyncio.sleep(WAITS)
        entered_too_soon = entered.is_set()
    await asyncio.wait_for(waiting, 10)
    assert not entered_too_soon, "a second turn for the same person ran inside the first"
    assert seen == [1], "the second turn did not see what the first saved"
    assert (await store.load("test", "alex")).turn == 2


@pytest.mark.parametrize("store_kind", ["postgres"])  # SQLite has one writer for everyone
async def test_turns_for_different_people_do_not_wait_for_each_other(database, store):
    other = await database.store()
    async with store.turn("test", "alex") as alex, asyncio.timeout(5):
        await alex.save(Conversation("test", "alex", turn=1))
        async with other.turn("test", "sam") as sam:  # would wait for ever if it waited
            await sam.save(Conversation("test", "sam", turn=1))
        assert (await other.load("test", "sam")).turn == 1
    assert (await other.load("test", "alex")).turn == 1


# -- the outbox -------------------------------------------------------------------------------


async def test_outbox_keeps_order_and_gives_each_persons_oldest_once_due(store):
    ids = [await store.enqueue(address, turn, Message(f"m{turn}"), NOW)
           for turn, address in enumerate((ALEX, SAM, ALEX, ALEX_ELSEWHERE), start=1)]
    assert ids == sorted(set(ids))
    assert await store.due(["test"], NOW) == []  # the channel sends first; the sender later
    assert await store.due(["test"], DUE - 0.01) == []
    due = await store.due(["test"], DUE)
    assert [(o.id, o.address, o.turn, o.message.text, o.attempts) for o in due] == [
        (ids[0], ALEX, 1, "m1", 0), (ids[1], SAM, 2, "m2", 0)]
    assert [o.id for o in await store.due(["test", "telegram"], DUE)] == [ids[0], ids[1], ids[3]]
    assert [o.id for o in await store.due(["test"], DUE, limit=1)] == [ids[0]]
    assert await store.due([], DUE) == []
    await store.sent(ids[0])
    assert [o.id for o in await store.due(["test"], DUE)] == [ids[1], ids[2]]


async def test_a_message_comes_back_whole(store):
    outgoing_id = await store.enqueue(ALEX, 7, MESSAGE, NOW)
    (outgoing,) = await store.due(["test"], DUE)
    assert (outgoing.id, outgoing.address, outgoing.turn, outgoing.message) == (
        outgoing_id, ALEX, 7, MESSAGE)


async def test_next_for_takes_a_new_message_at_once_and_a_retried_one_when_due(database, store):
    first = await store.enqueue(ALEX, 1, Message("one"), NOW)
    second = await store.enqueue(ALEX, 1, Message("two"), NOW)
    new = await store.next_for(ALEX, NOW)
    assert (new.id, new.attempts) == (first, 0)  # before its grace: the channel sends it now
    assert await store.next_for(SAM, NOW) is None

    assert await store.claim(first, NOW, 60)
    assert not await store.claim(first, NOW + 1, 60), "claimed twice within the lease"
    assert await store.next_for(ALEX, NOW + 1) is None  # being sent; the next waits behind it
    assert await store.due(["test"], DUE) == []
    assert await store.claim(first, NOW + 61, 60), "not taken again after the lease"

    await store.retry_later(first, NOW + 100, "502 Bad Gateway")
    assert database.query("SELECT last_error FROM outbox WHERE id = ?", (first,)) == [
        ("502 Bad Gateway",)]
    assert await store.next_for(ALEX, NOW + 99) is None
    assert not await store.claim(first, NOW + 99, 60), "a retry taken before it was due"
    assert await store.due(["test"], NOW + 99) == []
    retried = await store.next_for(ALEX, NOW + 100)
    assert (retried.id, retried.attempts) == (first, 2)
    assert [o.id for o in await store.due(["test"], NOW + 100)] == [first]
    assert await store.claim(first, NOW + 100, 60), "retry_later did not free it"

    await store.sent(first)
    assert await store.undelivered("test", "alex") == 1
    assert (await store.next_for(ALEX, NOW + 100)).id == second


async def test_outbox_ids_are_never_used_twice(store):
    """A sender that read a message before another sent it must not take a newer one for it."""
    first = await store.enqueue(ALEX, 1, Message("one"), NOW)
    await store.sent(first)
    second = await store.enqueue(SAM, 1, Message("two"), NOW)
    assert second > first
    assert not await store.claim(first, DUE, 60)
    await store.sent(first)  # a stale `sent` (a channel's `delivered`) deletes nothing else
    assert await store.undelivered("test", "sam") == 1


async def test_undelivered_counts_and_drops_one_persons_messages(store):
    for address in (ALEX, ALEX, SAM, ALEX_ELSEWHERE):
        await store.enqueue(address, 1, MESSAGE, NOW)
    assert await store.undelivered("test", "alex") == 2
    async with store.turn("test", "alex") as turn:
        assert await turn.drop_undelivered("test", "alex") == 2
    assert await store.undelivered("test", "alex") == 0
    assert await store.undelivered("test", "sam") == 1
    assert await store.undelivered("telegram", "alex") == 1
    assert await store.drop_undelivered("test", "nobody") == 0


async def test_the_backlog_by_channel_counts_waiting_messages_and_checkins_due(store):
    for address, at in ((ALEX, NOW + 3), (SAM, NOW + 1), (ALEX_ELSEWHERE, NOW + 2)):
        await store.enqueue(address, 1, MESSAGE, at)
    assert await store.waiting_by_channel() == {"test": (2, NOW + 1), "telegram": (1, NOW + 2)}
    for due_in in (-1.0, 0.0, 1.0):  # due before now, at now, after now
        await store.schedule_followup(Followup(0, "test", "alex", "knee", "checkin",
                                               NOW + due_in))
    assert await store.due_count_by_channel(NOW) == {"test": 2}
    assert await store.due_count_by_channel(NOW - 1.5) == {}


# -- forget and purge -------------------------------------------------------------------------


@pytest.mark.parametrize("inside", ["in a turn", "on its own"])
async def test_forget_deletes_a_person_from_every_table_and_no_one_else(database, store, inside):
    for number, address in enumerate((ALEX, SAM, ALEX_ELSEWHERE)):
        await saved_in_a_turn(store, address, update_id=f"u-{number}")
        assert database.rows_about(address) == ONE_OF_EACH
    if inside == "in a turn":
        async with store.turn("test", "alex") as turn:
            await turn.delete("test", "alex")
    else:
        await store.delete("test", "alex")
    assert database.rows_about(ALEX) == NONE
    assert database.rows_about(SAM) == ONE_OF_EACH
    assert database.rows_about(ALEX_ELSEWHERE) == ONE_OF_EACH
    assert await store.channels_of("alex") == ["telegram"]
    assert [lead.user_id for lead in await store.leads()] == ["sam", "alex"]
    assert await reply_to_update(store, "test", "u-0") is None
    assert await reply_to_update(store, "test", "u-1") is not None


async def test_purge_drops_updates_after_two_days_and_old_rows_only(store):
    now = time.time()
    async with store.turn("test", "alex") as turn:
        await turn.save(Conversation("test", "alex", turn=1))
        await turn.record("started", "test", "alex", "knee", at=now - 40 * 86400)
        await turn.record("started", "test", "alex", "knee", at=now)
        await turn.remember_update("test", "old", "alex", "{}", now - UPDATES_KEPT_FOR - 60)
        await turn.remember_update("test", "recent", "alex", "{}", now - UPDATES_KEPT_FOR + 60)
    deleted = await store.purge(now - 30 * 86400)
    assert deleted == {"conversations": 0, "events": 1, "leads": 0, "relays": 0}
    assert await reply_to_update(store, "test", "old") is None
    assert await reply_to_update(store, "test", "recent") == "{}"
    assert await store.load("test", "alex") is not None
    assert len(await store.events("test", "alex")) == 1


# -- migrations -------------------------------------------------------------------------------


def latest(kind: str) -> int:
    return len(migrations.SQLITE if kind == "sqlite" else migrations.POSTGRES)


def recorded_versions(database: Database) -> list[int]:
    if database.kind == "sqlite":
        return [database.query("PRAGMA user_version")[0][0]]
    return [row[0] for row in database.query("SELECT version FROM schema_migrations ORDER BY 1")]


async def test_a_new_database_is_migrated_to_the_latest_version_once(database, store, store_kind):
    assert await store.schema_version() == latest(store_kind)
    await saved_in_a_turn(store, ALEX)
    again = await database.store()  # a restart, or a second replica
    await again.open()
    assert await again.schema_version() == latest(store_kind)
    if store_kind == "sqlite":
        assert recorded_versions(database) == [latest(store_kind)]
    else:  # one row per version: none applied twice
        assert recorded_versions(database) == [*range(1, latest(store_kind) + 1)]
    assert database.rows_about(ALEX) == ONE_OF_EACH
    assert (await again.load("test", "alex")).turn == 3


@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_replicas_opening_a_new_database_together_migrate_it_once(database):
    stores = [PostgresStore(database.location) for _ in range(3)]
    database.opened += stores
    await asyncio.gather(*(store.open() for store in stores))
    assert recorded_versions(database) == list(range(1, len(migrations.POSTGRES) + 1))
    for store in stores:
        assert await store.schema_version() == len(migrations.POSTGRES)
    await saved_in_a_turn(stores[0], ALEX)
    assert await stores[2].undelivered("test", "alex") == 1


async def test_processes_opening_a_new_sqlite_file_together_migrate_it_once(tmp_path):
    """Each opening reads the version again under the write lock (the bot and a `say` started
    at once on a new data folder): none applies a migration another already did."""
    for attempt in range(3):
        path = tmp_path / f"new-{attempt}.sqlite3"
        ready = threading.Barrier(6)
        opened: list[SQLiteStore] = []

        def open_it(path: Path = path, ready: threading.Barrier = ready,
                    opened: list[SQLiteStore] = opened) -> None:
            ready.wait()
            opened.append(SQLiteStore(path))

        await asyncio.gather(*(asyncio.to_thread(open_it) for _ in range(6)))
        assert [await store.schema_version() for store in opened] == [latest("sqlite")] * 6
        for store in opened:
            await store.close()


# The tables of the first releases, before versions were numbered (user_version 0): no
# version on events, leads without flow_version, urgency and consent_version, no consents,
# clicks, updates or outbox; an index version 1 drops.
FIRST_RELEASE_SCHEMA = """
CREATE TABLE conversations (
    channel TEXT NOT NULL, user_id TEXT NOT NULL, data TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (channel, user_id)
) WITHOUT ROWID;
CREATE INDEX conversations_by_age ON conversations (updated_at);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, channel TEXT NOT NULL, user_id TEXT NOT NULL, flow TEXT NOT NULL,
    kind TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', at REAL NOT NULL
);
CREATE TABLE leads (
    id INTEGER PRIMARY KEY, channel TEXT NOT NULL, user_id TEXT NOT NULL, name TEXT NOT NULL,
    email TEXT NOT NULL, phone TEXT NOT NULL, source TEXT NOT NULL, flow TEXT NOT NULL,
    drivers TEXT NOT NULL, red_flag TEXT, created_at REAL NOT NULL
);
CREATE TABLE relays (
    staff_chat TEXT NOT NULL, message_id TEXT NOT NULL, channel TEXT NOT NULL,
    user_id TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (staff_chat, message_id)
) WITHOUT ROWID;
"""


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_a_first_release_sqlite_file_is_upgraded_with_its_rows_kept(database):
    with contextlib.closing(sqlite3.connect(database.location)) as db:
        db.executescript(FIRST_RELEASE_SCHEMA)
        db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?)",
                   ("test", "alex", Conversation("test", "alex", turn=4).to_json(), NOW))
        db.execute("INSERT INTO events (channel, user_id, flow, kind, detail, at)"
                   " VALUES ('test', 'alex', 'knee', 'finished', 'result', ?)", (NOW,))
        db.execute("INSERT INTO leads (channel, user_id, name, email, phone, source, flow,"
                   " drivers, red_flag, created_at) VALUES ('test', 'alex', 'Alex', 'a@b.org',"
                   " '', '', 'knee', 'hip_mobility,foot', NULL, ?)", (NOW,))
        db.execute("INSERT INTO relays VALUES ('staff', '7', 'test', 'alex', ?)", (NOW,))
        db.commit()
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0

    store = await database.store()
    assert await store.schema_version() == len(migrations.SQLITE)
    assert (await store.load("test", "alex")).turn == 4
    assert await store.events("test", "alex") == [("finished", "knee", "result", "")]
    (lead,) = await store.leads()
    assert (lead.name, lead.drivers, lead.flow_version, lead.urgency, lead.consent_version) == (
        "Alex", ("hip_mobility", "foot"), "", None, "")
    assert await store.relay_target("staff", "7") == ("test", "alex")
    await saved_in_a_turn(store, ALEX, update_id="after-upgrade")  # every new table works
    assert database.rows_about(ALEX) == {**ONE_OF_EACH, "events": 2, "leads": 2, "relays": 2}
    assert database.query("SELECT name FROM sqlite_master WHERE name = 'conversations_by_age'") \
        == []
    await store.close()
    database.opened.remove(store)
    assert await (await database.store()).schema_version() == len(migrations.SQLITE)


# -- the engine: exactly once in --------------------------------------------------------------


async def test_several_messages_of_a_turn_go_in_order_each_marked_but_the_last(store):
    async with store.turn("test", "alex") as turn:
        ids, _ = await turn.enqueue_all(ALEX, 3, [Message("one"), Message("two")], NOW)
    assert ids == sorted(ids) and len(set(ids)) == 2
    taken = await store.claim_next(ALEX, NOW, LEASE)
    assert (taken.id, taken.turn, taken.message.text, taken.attempts) == (ids[0], 3, "one", 0)
    assert await store.claim_next(ALEX, NOW, LEASE) is None, "the next waits behind it"
    assert await store.sent(ids[0]), "the second was queued behind the first"
    assert (await store.claim_next(ALEX, NOW, LEASE)).id == ids[1]
    assert not await store.sent(ids[1]), "none behind the last"


async def test_a_turn_claims_its_messages_for_itself_when_none_older_waits(database, store):
    """The process that saves a reply sends it right after the turn, without claiming it
    then; killed before that, another process sends it once the claim ends, not before."""
    async with store.turn("test", "alex") as turn:
        ids, claimed = await turn.enqueue_all(ALEX, 3, [Message("one"), Message("two")], NOW,
                                              claim=LEASE)
    assert claimed
    other = await database.store()
    for now in (NOW + FIRST_SEND_GRACE, NOW + LEASE):  # within the claim, and at its end
        assert await other.claim_next(ALEX, now, LEASE) is None
        assert not await other.claim(ids[0], now, LEASE)
        assert await other.next_for(ALEX, now) is None
        assert await other.due(["test"], now) == []
    after = NOW + LEASE + 0.01
    assert [o.id for o in await other.due(["test"], after)] == [ids[0]]
    taken = await other.claim_next(ALEX, after, LEASE)
    assert (taken.id, taken.message.text, taken.attempts) == (ids[0], "one", 0)


async def test_a_message_queued_behind_a_waiting_one_marks_it_and_waits(store):
    older = await store.enqueue(ALEX, 1, Message("one"), NOW)
    assert await store.claim_next(ALEX, NOW, LEASE)
    await store.retry_later(older, NOW + 5, "429 Too Many Requests")
    elsewhere = await store.enqueue(ALEX_ELSEWHERE, 1, Message("other"), NOW)
    async with store.turn("test", "alex") as turn:
        (newer,), claimed = await turn.enqueue_all(ALEX, 2, [Message("two")], NOW + 1,
                                                   claim=LEASE)
    assert not claimed
    assert await store.claim_next(ALEX, NOW + 4, LEASE) is None, "nothing before the retry"
    retried = await store.claim_next(ALEX, NOW + 5, LEASE)
    assert (retried.id, retried.attempts) == (older, 1)
    assert await store.sent(older), "its sender looks for the one queued behind it"
    assert (await store.claim_next(ALEX, NOW + 5, LEASE)).id == newer
    assert not await store.sent(newer)
    assert not await store.sent(elsewhere), "another channel's person is another queue"
    assert not await store.sent(older), "sent twice: nothing left to say"


async def test_a_failed_send_of_a_message_claimed_with_its_turn_waits_for_its_retry(store):
    async with store.turn("test", "alex") as turn:
        (outgoing_id,), claimed = await turn.enqueue_all(ALEX, 1, [MESSAGE], NOW, claim=LEASE)
    assert claimed
    await store.retry_later(outgoing_id, NOW + 5, "502 Bad Gateway")
    assert await store.claim_next(ALEX, NOW + 4, LEASE) is None
    assert await store.next_for(ALEX, NOW + 4) is None
    retried = await store.claim_next(ALEX, NOW + 5, LEASE)
    assert (retried.id, retried.message, retried.attempts) == (outgoing_id, MESSAGE, 1)


async def test_what_is_queued_behind_a_held_message_goes_once_it_is_shown(store):
    async with store.turn("test", "alex") as turn:
        (held,), claimed = await turn.enqueue_all(ALEX, 1, [MESSAGE], NOW, hold=LEASE)
    assert not claimed
    assert await store.claim_next(ALEX, NOW + 1, LEASE) is None
    async with store.turn("test", "alex") as turn:
        (behind,), claimed = await turn.enqueue_all(ALEX, 2, [MESSAGE], NOW + 1, claim=LEASE)
    assert not claimed, "the held one is older"
    assert await store.sent(held), "shown another way; the one behind it goes now"
    assert (await store.claim_next(ALEX, NOW + 1, LEASE)).id == behind


async def test_one_of_several_senders_claims_the_next_message(database, store):
    outgoing_id = await store.enqueue(ALEX, 1, MESSAGE, NOW)
    senders = [store, *[await database.store() for _ in range(3)]]
    taken = await asyncio.gather(*(s.claim_next(ALEX, NOW, LEASE) for s in senders))
    assert [o.id for o in taken if o is not None] == [outgoing_id]


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_messages_waiting_at_the_upgrade_are_marked_when_one_is_behind(database):
    with contextlib.closing(sqlite3.connect(database.location)) as db:
        for number, script in enumerate(migrations.SQLITE[:4], start=1):
            db.executescript(script)
            db.execute(f"PRAGMA user_version = {number}")
        for user_id in ("alex", "alex", "sam"):
            db.execute("INSERT INTO outbox (channel, user_id, turn, message, created_at,"
                       " next_at) VALUES ('test', ?, 1, '{}', ?, ?)", (user_id, NOW, NOW))
        db.commit()
    await database.store()
    assert database.query("SELECT user_id, queued_behind FROM outbox ORDER BY id") == [
        ("alex", 1), ("alex", 0), ("sam", 0)]


def press(choice: str, turn: int, **extra: Any) -> Event:
    return Event("test", "alex", EventKind.PRESS, choice_id=choice, turn=turn, **extra)


def command(name: str, **extra: Any) -> Event:
    return replace(Event.from_text("test", "alex", f"/{name}"), **extra)


async def kinds_of_events(engine: TurnRunner) -> list[str]:
    return [kind for kind, *_ in await engine.store.events("test", "alex")]


async def test_an_update_handled_twice_is_answered_again_and_applied_once(engine):
    started = await engine.handle(command("start", update_id="100"))
    first = await engine.handle(press("begin", started.turn, update_id="101"))
    saved = await engine.store.load("test", "alex")
    again = await engine.handle(press("begin", started.turn, update_id="101"))
    assert again.repeated and not first.repeated
    assert (again.messages, again.turn, again.state, again.applied) == (
        first.messages, first.turn, first.state, first.applied)
    assert await engine.store.load("test", "alex") == saved
    restarted = await engine.handle(command("start", update_id="100"))
    assert restarted.repeated and restarted.messages == started.messages
    assert (await engine.store.load("test", "alex")).turn == saved.turn
    assert await kinds_of_events(engine) == ["started"]


async def test_an_update_older_than_the_last_applied_is_not_applied(engine):
    started = await engine.handle(command("start", sequence=10))
    assert started.applied
    late = await engine.handle(press("begin", started.turn, sequence=9))
    assert late.stale and not late.applied and late.state == "welcome"
    assert "reached me after later ones" in late.messages[0].text
    saved = await engine.store.load("test", "alex")
    assert (saved.turn, saved.state, saved.last_sequence) == (started.turn, "welcome", 10)

    same = await engine.handle(press("begin", started.turn, sequence=10))
    assert same.applied and same.state == "who"
    later = await engine.handle(press("me", same.turn, sequence=11))
    assert later.applied and later.state == "age"
    assert (await engine.store.load("test", "alex")).last_sequence == 11
    assert await kinds_of_events(engine) == ["started"]


async def test_a_late_update_after_a_quiet_day_is_applied(engine):
    """Platforms resend for a day at most, and may number afresh after a quiet spell."""
    started = await engine.handle(command("start", sequence=500))
    engine.clock = lambda: time.time() + 86400 + 60
    renumbered = await engine.handle(press("begin", started.turn, sequence=3))
    assert renumbered.applied and renumbered.state == "who"


async def test_a_typed_answer_to_a_question_still_on_its_way_is_not_applied(engine):
    engine = wired(engine, queued=("test",))
    person = DialogClient(engine, "alex")
    start = await person.send("/start")
    assert start.queued and await engine.store.undelivered("test", "alex") == 1
    asked = await person.click("begin")  # presses answer what the person saw: applied
    assert asked.applied and asked.state == "who"
    assert await engine.store.undelivered("test", "alex") == 2
    saved = await engine.store.load("test", "alex")

    typed = await person.send("for me")
    assert not typed.applied and typed.stale and typed.state == "who"
    assert "may not have reached you" in typed.messages[0].text
    assert typed.messages[1:] == asked.messages  # the question again
    unchanged = await engine.store.load("test", "alex")
    assert replace(unchanged, updated_at=0) == replace(saved, updated_at=0)
    assert set(typed.queued).isdisjoint(start.queued + asked.queued)
    assert await engine.store.undelivered("test", "alex") == len(typed.queued) == 2

    await engine.delivered(Address("test", "alex"), typed)
    assert await engine.store.undelivered("test", "alex") == 0
    answered = await person.send("for me")
    assert answered.applied and answered.state == "age"
    assert await kinds_of_events(engine) == ["started"]


async def test_a_turn_marks_the_messages_still_waiting_for_the_person(engine):
    """The turn counts the person's waiting messages under their lock; when some wait, the
    new reply marks them, so whoever sends the last of them looks for the new one."""
    engine = wired(engine, queued=("test",))
    person = DialogClient(engine, "alex")
    (first,) = (await person.send("/start")).queued
    (second,) = (await person.click("begin")).queued
    assert await engine.store.sent(first), "marked: the one behind it is looked for"
    assert not await engine.store.sent(second), "nothing queued behind the last one"
    (alone,) = (await person.click("me")).queued
    assert not await engine.store.sent(alone)


async def test_a_typed_yes_to_forget_while_the_question_is_on_its_way_asks_again(engine):
    engine = wired(engine, queued=("test",))
    person = DialogClient(engine, "alex")
    await person.send("/start")
    asked = await person.send("/forget")  # a command is applied with messages still waiting
    assert asked.applied and {"forget_yes", "forget_no"} <= set(person.choice_ids)
    assert await engine.store.undelivered("test", "alex") == 2

    typed = await person.send("yes")
    assert typed.state != "forgotten" and await engine.store.load("test", "alex") is not None
    assert "may not have reached you" in typed.messages[0].text
    assert typed.messages[1].text == asked.messages[0].text
    assert {"forget_yes", "forget_no"} <= set(person.choice_ids)
    assert await engine.store.undelivered("test", "alex") == len(typed.queued)

    await engine.delivered(Address("test", "alex"), typed)
    forgotten = await person.send("yes")
    assert forgotten.state == "forgotten"
    assert await engine.store.load("test", "alex") is None
    assert await engine.store.events("test", "alex") == []


async def test_a_resent_update_is_not_queued_again(engine):
    engine = wired(engine, queued=("test",))
    first = await engine.handle(command("start", update_id="7"))
    again = await engine.handle(command("start", update_id="7"))
    assert again.repeated and again.queued == () and again.messages == first.messages
    assert await engine.store.undelivered("test", "alex") == len(first.queued) == 1


async def test_a_held_message_is_no_other_senders_until_released_or_its_hold_ends(store):
    """A pick edited in place is held for the process that shows it; nobody else sends it."""
    held = await store.enqueue(ALEX, 7, MESSAGE, NOW, hold=30.0)
    assert await store.next_for(ALEX, NOW + 1) is None
    assert not await store.claim(held, NOW + 1, 30.0)
    assert await store.due(["test"], NOW + 20) == [], "nor the background sender"
    assert (await store.next_for(ALEX, NOW + 31)).id == held, "a hold ends like a lease"
    await store.release(held)
    assert (await store.next_for(ALEX, NOW + 1)).id == held
    assert await store.claim(held, NOW + 1, 30.0)


# -- the engine: at least once out, each reply sent by the process that saved it ----------------


# The 'test' channel's replies go through the outbox, sent by this process, as Telegram's do.
THROUGH_THE_OUTBOX = Wiring(queued=frozenset({"test"}), delivered=frozenset({"test"}))


class Clock:
    """The time, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recording:
    """A channel's outbox that keeps the text of what it sent; fails while `failure` is set."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.failure: DeliveryFailed | None = None

    async def deliver(self, address: Address, reply: Reply) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent += texts(reply)


def texts(reply: Reply) -> list[str]:
    return [message.text for message in reply.messages]


async def sending_engine(
    database: Database, tmp_path: Path, clock: Callable[[], float]
) -> tuple[TurnRunner, Recording]:
    """An engine of its own (another process, or replica) on the test's database, whose 'test'
    channel replies through the outbox, as Telegram's does."""
    settings = load_settings(data_dir=tmp_path / "data")
    engine = build_engine(settings, await database.store(), clock, THROUGH_THE_OUTBOX)
    outbox = Recording()
    engine.outboxes["test"] = outbox
    return engine, outbox


async def test_a_reply_is_sent_by_another_process_once_the_killed_ones_claim_ends(
    database, tmp_path
):
    clock = Clock(NOW)
    (killed, _), (other, outbox) = [await sending_engine(database, tmp_path, clock)
                                    for _ in range(2)]
    started = await killed.handle(command("start", update_id="1"))  # killed before its flush
    lease = killed.deliveries.lease
    for now in (NOW + FIRST_SEND_GRACE, NOW + lease):  # within the claim, and at its end
        clock.now = now
        assert await other.deliveries.send_due() == 0
        assert await other.flush(ALEX) and outbox.sent == []
    clock.now = NOW + lease + 0.01
    assert await other.deliveries.send_due() == 1
    assert outbox.sent == texts(started)
    assert await other.store.undelivered("test", "alex") == 0


async def test_two_processes_send_a_persons_replies_once_each_in_order(database, tmp_path):
    clock = Clock(NOW)
    (first, first_sent), (second, second_sent) = [
        await sending_engine(database, tmp_path, clock) for _ in range(2)]
    started = await first.handle(command("start", update_id="1"))
    pressed = await second.handle(press("begin", started.turn, update_id="2"))
    assert await second.flush(ALEX), "the first process has the person's oldest"
    assert first_sent.sent == second_sent.sent == []
    assert await first.flush(ALEX)
    assert first_sent.sent == texts(started) + texts(pressed), "and what was queued behind it"
    assert second_sent.sent == []

    later = await second.handle(press("me", pressed.turn, update_id="3"))
    assert await first.flush(ALEX) and first_sent.sent == texts(started) + texts(pressed)
    assert await second.flush(ALEX) and second_sent.sent == texts(later)
    assert await first.store.undelivered("test", "alex") == 0


async def test_a_reply_waits_behind_one_waiting_for_its_retry(database, tmp_path):
    clock = Clock(NOW)
    engine, outbox = await sending_engine(database, tmp_path, clock)
    outbox.failure = DeliveryFailed("429 Too Many Requests", retry_after=5.0)
    started = await engine.handle(command("start", update_id="1"))
    assert not await engine.flush(ALEX)
    outbox.failure = None
    pressed = await engine.handle(press("begin", started.turn, update_id="2"))
    assert await engine.flush(ALEX) and outbox.sent == [], "not before the one it follows"
    clock.now = NOW + 5.0
    assert await engine.deliveries.send_due() == 1
    assert outbox.sent == texts(started) + texts(pressed)


async def deliveries_with_a_claimed_reply(
    database: Database, clock: Clock, *words: str
) -> tuple[Deliveries, Recording]:
    """A process's sender after a turn that claimed a reply of `words` for it."""
    store = await database.store()
    deliveries, outbox = Deliveries(store, clock, LEASE), Recording()
    deliveries.outboxes["test"] = outbox
    messages = [Message(word) for word in words]
    async with store.turn("test", "alex") as turn:
        ids, claimed = await turn.enqueue_all(ALEX, 1, messages, clock(), claim=LEASE)
    assert claimed
    claim = tuple(Outgoing(i, ALEX, 1, m) for i, m in zip(ids, messages, strict=True))
    deliveries.send_at_flush(Claim(ALEX, claim, clock() + LEASE))
    return deliveries, outbox


async def test_after_a_failed_send_the_rest_of_its_reply_follows_it_at_its_retry(database):
    clock = Clock(NOW)
    deliveries, outbox = await deliveries_with_a_claimed_reply(database, clock, "one", "two")
    outbox.failure = DeliveryFailed("502 Bad Gateway", retry_after=5.0)
    assert not await deliveries.flush(ALEX)
    outbox.failure = None
    assert await deliveries.flush(ALEX) and outbox.sent == [], "the second waits behind it"
    clock.now = NOW + 5.0
    assert await deliveries.send_due() == 1
    assert outbox.sent == ["one", "two"]


async def test_a_flush_too_late_for_its_turns_claim_leaves_the_reply_to_the_claims_end(
    database
):
    clock = Clock(NOW)
    deliveries, outbox = await deliveries_with_a_claimed_reply(database, clock, "one", "two")
    clock.now = NOW + LEASE * SEND_SHARE  # a send could not be settled before the claim ends
    assert await deliveries.flush(ALEX) and outbox.sent == []
    assert await deliveries.send_due() == 0
    clock.now = NOW + LEASE + 0.01
    assert await deliveries.send_due() == 1
    assert outbox.sent == ["one", "two"]


async def test_a_pick_shown_in_place_sends_what_another_process_queued_behind_it(
    database, tmp_path
):
    clock = Clock(NOW)
    (shows, shown_sent), (other, other_sent) = [
        await sending_engine(database, tmp_path, clock) for _ in range(2)]
    # on the way to a pick-several question, replies go at once
    person = DialogClient(wired(shows), "alex")
    await answer_safety_questions_no(person)
    await person.send("2")
    person.engine = shows
    picked = await person.click("stairs")  # a pick-several: the question is edited in place
    assert picked.edit and picked.queued
    done = await other.handle(press("done", picked.turn, update_id="9"))
    assert await other.flush(ALEX) and other_sent.sent == [], "the pick is held for its process"
    shown_sent.sent.clear()
    await shows.delivered(ALEX, picked)
    assert shown_sent.sent == texts(done)
    assert await shows.store.undelivered("test", "alex") == 0


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_a_press_sent_through_the_outbox_takes_seven_statements(database, tmp_path):
    """The turn, the update's id and the reply claimed in one transaction (with nothing
    waiting for the person, nothing to mark); after the send, one statement settles it and
    says nothing was queued behind it."""
    engine, outbox = await sending_engine(database, tmp_path, time.time)
    started = await engine.handle(command("start", update_id="1"))
    pressed = await engine.handle(press("begin", started.turn, update_id="2"))
    await engine.flush(ALEX)
    statements: list[str] = []
    engine.store._db.set_trace_callback(statements.append)
    answered = await engine.handle(press("me", pressed.turn, update_id="3"))
    await engine.flush(ALEX)
    assert outbox.sent == texts(started) + texts(pressed) + texts(answered)
    assert [statement.split()[0] for statement in statements] == [
        "BEGIN", "SELECT", "INSERT", "INSERT", "INSERT", "COMMIT", "DELETE"]


# -- the practice's dashboard: staff accounts, sessions, failed sign-ins ------------------------


async def test_a_staff_account_is_added_once_listed_and_removed_with_its_sessions(store):
    assert await store.add_staff("pat@example.org", "hash-1", NOW)
    assert not await store.add_staff("pat@example.org", "hash-2", NOW + 1)  # no overwrite
    assert await store.staff_password_hash("pat@example.org") == "hash-1"
    assert await store.staff_password_hash("nobody@example.org") is None
    await store.add_staff("ann@example.org", "hash-3", NOW + 2)
    assert await store.staff_accounts() == [("ann@example.org", NOW + 2),
                                            ("pat@example.org", NOW)]
    await store.start_staff_session("token-hash", "pat@example.org", "csrf", NOW, NOW + 60)
    assert await store.staff_session("token-hash", NOW + 1) == ("pat@example.org", "csrf")
    assert await store.remove_staff("pat@example.org")
    assert not await store.remove_staff("pat@example.org")
    assert await store.staff_session("token-hash", NOW + 1) is None
    assert await store.staff_accounts() == [("ann@example.org", NOW + 2)]


async def test_a_staff_session_lasts_until_it_expires_or_is_ended(database, store):
    await store.add_staff("pat@example.org", "hash", NOW)
    await store.start_staff_session("a", "pat@example.org", "csrf-a", NOW, NOW + 60)
    assert await store.staff_session("a", NOW + 59.9) == ("pat@example.org", "csrf-a")
    assert await store.staff_session("a", NOW + 60) is None  # expired at its expiry
    assert await store.staff_session("unknown", NOW) is None
    # A new sign-in drops the sessions already expired.
    await store.start_staff_session("b", "pat@example.org", "csrf-b", NOW + 61, NOW + 120)
    assert database.query("SELECT token_hash FROM staff_sessions") == [("b",)]
    await store.end_staff_session("b")
    assert await store.staff_session("b", NOW + 62) is None


async def test_failed_sign_ins_count_in_a_row_and_start_again_when_old(store):
    assert await store.sign_in_failures("account:x") == (0, 0.0)
    assert await store.count_sign_in_failure("account:x", NOW, NOW - 900) == 1
    assert await store.count_sign_in_failure("account:x", NOW + 1, NOW - 899) == 2
    assert await store.count_sign_in_failure("address:y", NOW + 1, NOW - 899) == 1
    assert await store.sign_in_failures("account:x") == (2, NOW + 1)
    # The last failure is older than the window: the count starts again.
    assert await store.count_sign_in_failure("account:x", NOW + 2000, NOW + 1.5) == 1
    await store.clear_sign_in_failures("account:x")
    assert await store.sign_in_failures("account:x") == (0, 0.0)
    assert await store.sign_in_failures("address:y") == (1, NOW + 1)


async def test_booking_events_list_booked_cancelled_and_rescheduled_calls(store):
    await store.record("started", "web", "a", "knee", at=NOW)
    await store.record("booked", "web", "a", "knee", "calendly", at=NOW + 1)
    await store.record("booking_cancelled", "web", "a", "knee", "calendly", at=NOW + 2)
    await store.record("booked", "telegram", "b", "knee", "cal.com", at=NOW + 3)
    assert await store.booking_events() == [
        ("web", "a", "booked", NOW + 1), ("web", "a", "booking_cancelled", NOW + 2),
        ("telegram", "b", "booked", NOW + 3),
    ]
