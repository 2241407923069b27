"""SQLite store: the embedded default, one file, WAL mode, readable by the bot's user alone.

Deleted rows leave nothing behind: `secure_delete` overwrites them with zeros, and after a
forget or a purge the write-ahead log is checkpointed into the database and truncated.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from bot.core.conversation import Conversation
from bot.core.records import Consent, EventRecord, Lead, StatRow, StoredData

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
DATABASE_SIDE_FILES = ("-wal", "-shm", "-journal")
MEMORY = ":memory:"

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    channel    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    data       TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (channel, user_id)
) WITHOUT ROWID;
-- No index on updated_at: only the daily purge reads it, and every turn would pay for one.
DROP INDEX IF EXISTS conversations_by_age;

CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    flow    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '',
    at      REAL NOT NULL,
    version TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_by_person ON events (channel, user_id);
CREATE INDEX IF NOT EXISTS events_by_age ON events (at);

CREATE TABLE IF NOT EXISTS leads (
    id         INTEGER PRIMARY KEY,
    channel    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    phone      TEXT NOT NULL,
    source     TEXT NOT NULL,
    flow       TEXT NOT NULL,
    drivers    TEXT NOT NULL,
    red_flag   TEXT,
    created_at REAL NOT NULL,
    flow_version TEXT NOT NULL DEFAULT '',
    urgency    TEXT
);
CREATE INDEX IF NOT EXISTS leads_by_person ON leads (channel, user_id);

CREATE TABLE IF NOT EXISTS relays (
    staff_chat TEXT NOT NULL,
    message_id TEXT NOT NULL,
    channel    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (staff_chat, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS relays_by_person ON relays (channel, user_id);

CREATE TABLE IF NOT EXISTS consents (
    id           INTEGER PRIMARY KEY,
    channel      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    version      TEXT NOT NULL,
    at           REAL NOT NULL,
    withdrawn_at REAL
);
CREATE INDEX IF NOT EXISTS consents_by_person ON consents (channel, user_id);

-- Link clicks already counted: a pseudonym (never a user id or an address) and the link.
CREATE TABLE IF NOT EXISTS clicks (
    clicker TEXT NOT NULL,
    target  TEXT NOT NULL,
    at      REAL NOT NULL,
    PRIMARY KEY (clicker, target)
) WITHOUT ROWID;
"""

_LEAD_COLUMNS = (
    "channel, user_id, name, email, phone, source, flow, drivers, red_flag, created_at,"
    " flow_version, urgency, consent_version"
)
_CONSENT_COLUMNS = "channel, user_id, kind, version, at, withdrawn_at"
# Columns added after the first release, for databases made before them.
_ADDED_COLUMNS = {
    "events": {"version": "TEXT NOT NULL DEFAULT ''"},
    "leads": {"flow_version": "TEXT NOT NULL DEFAULT ''", "urgency": "TEXT",
              "consent_version": "TEXT NOT NULL DEFAULT ''"},
}
# Everything kept about a person, by (channel, user_id): what a forget deletes.
PERSON_TABLES = ("conversations", "events", "leads", "relays", "consents")


def private_folder(folder: Path) -> None:
    """Create a folder and any missing parents readable by this user alone, whatever the umask.

    A folder that already exists is left as it is (`check` warns when others can read it).
    """
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)
        os.chmod(created, PRIVATE_FOLDER)  # mkdir's mode is filtered by the umask


def private_database(path: Path) -> None:
    """Create the database file (and its folder) readable by this user alone; SQLite gives its
    -wal and -shm files the database file's mode. An older file is made private too."""
    private_folder(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE))
    _make_private(path)


def _make_private(path: Path) -> None:
    for file in (path, *(Path(f"{path}{suffix}") for suffix in DATABASE_SIDE_FILES)):
        if file.exists() and file.stat().st_mode & 0o777 != PRIVATE_FILE:
            os.chmod(file, PRIVATE_FILE)


class SQLiteStore:
    """Conversations, funnel events and leads in one SQLite file.

    Calls are synchronous inside the async methods on purpose: a primary-key read or a
    one-row upsert on a local WAL file takes microseconds, less than a hop to a thread pool.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        on_disk = self.path != MEMORY
        if on_disk:
            private_database(Path(self.path))
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten with zeros
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()
        if on_disk:
            _make_private(Path(self.path))

    def _add_missing_columns(self) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    # -- conversations ------------------------------------------------------------------------

    async def load(self, channel: str, user_id: str) -> Conversation | None:
        row = self._db.execute(
            "SELECT data FROM conversations WHERE channel = ? AND user_id = ?",
            (channel, user_id),
        ).fetchone()
        return Conversation.from_json(row[0]) if row else None

    async def save(self, conversation: Conversation) -> None:
        conversation.updated_at = time.time()
        self._db.execute(
            "INSERT INTO conversations (channel, user_id, data, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (channel, user_id) DO UPDATE"
            " SET data = excluded.data, updated_at = excluded.updated_at",
            (
                conversation.channel,
                conversation.user_id,
                conversation.to_json(),
                conversation.updated_at,
            ),
        )

    async def delete(self, channel: str, user_id: str) -> None:
        """Forget a person: their conversation, events, leads, consents and staff notices, in one
        transaction, then nothing left of them in the log either."""
        with self._db:
            self._db.execute("BEGIN")
            for table in PERSON_TABLES:
                self._db.execute(
                    f"DELETE FROM {table} WHERE channel = ? AND user_id = ?",
                    (channel, user_id),
                )
        self._checkpoint()

    def _checkpoint(self) -> None:
        """Move the write-ahead log into the database and empty it, so deleted rows survive in
        neither file (their pages in the database were zeroed by secure_delete)."""
        busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("the database log could not be emptied now (another reader); deleted "
                        "rows stay in it until the next checkpoint")

    async def stored_about(self, channel: str, user_id: str) -> StoredData:
        """Everything kept about one person on one channel."""
        where = (channel, user_id)
        events = self._db.execute(
            "SELECT kind, flow, detail, version, at FROM events WHERE channel = ? AND user_id = ?"
            " ORDER BY id", where,
        ).fetchall()
        leads = self._db.execute(
            f"SELECT {_LEAD_COLUMNS} FROM leads WHERE channel = ? AND user_id = ?"
            " ORDER BY created_at", where,
        ).fetchall()
        return StoredData(
            channel=channel,
            user_id=user_id,
            conversation=await self.load(channel, user_id),
            events=tuple(EventRecord(*row) for row in events),
            leads=tuple(_lead(row) for row in leads),
            consents=tuple(await self.consents(channel, user_id)),
            staff_notices=len(await self.relay_messages(channel, user_id)),
        )

    async def channels_of(self, user_id: str) -> list[str]:
        """The channels on which anything is kept about a user id."""
        rows = self._db.execute(
            " UNION ".join(f"SELECT channel FROM {table} WHERE user_id = ?"
                           for table in PERSON_TABLES) + " ORDER BY channel",
            (user_id,) * len(PERSON_TABLES),
        ).fetchall()
        return [row[0] for row in rows]

    # -- funnel events ------------------------------------------------------------------------

    async def record(
        self, kind: str, channel: str, user_id: str, flow: str, detail: str = "",
        at: float | None = None, version: str = "",
    ) -> None:
        """Append one funnel event (outcomes carry the flow version they came from)."""
        self._db.execute(
            "INSERT INTO events (channel, user_id, flow, kind, detail, at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (channel, user_id, flow, kind, detail, time.time() if at is None else at, version),
        )

    async def count_click(self, clicker: str, target: str, at: float) -> bool:
        """Mark a click on a link by a pseudonymous clicker; False when it was already counted."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO clicks (clicker, target, at) VALUES (?, ?, ?)",
            (clicker, target, at),
        )
        return cursor.rowcount == 1

    async def forget_clicks(self, clicker: str) -> None:
        """Drop the click marks of one pseudonymous clicker (part of a forget)."""
        self._db.execute("DELETE FROM clicks WHERE clicker = ?", (clicker,))

    async def events(self, channel: str, user_id: str) -> list[tuple[str, str, str, str]]:
        """One person's funnel events, oldest first: (kind, flow, detail, version)."""
        return self._db.execute(
            "SELECT kind, flow, detail, version FROM events WHERE channel = ? AND user_id = ?"
            " ORDER BY id",
            (channel, user_id),
        ).fetchall()

    async def stats(self) -> list[StatRow]:
        """Event counts by day, channel, flow, kind and detail, oldest day first."""
        rows = self._db.execute(
            "SELECT date(at, 'unixepoch') AS day, channel, flow, kind, detail, count(*)"
            " FROM events GROUP BY day, channel, flow, kind, detail"
            " ORDER BY day, channel, flow, kind, detail"
        ).fetchall()
        return [StatRow(*row) for row in rows]

    # -- leads --------------------------------------------------------------------------------

    async def save_lead(self, lead: Lead) -> None:
        self._db.execute(
            f"INSERT INTO leads ({_LEAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (lead.channel, lead.user_id, lead.name, lead.email, lead.phone, lead.source,
             lead.flow, ",".join(lead.drivers), lead.red_flag, lead.created_at,
             lead.flow_version, lead.urgency, lead.consent_version),
        )

    async def leads(self) -> list[Lead]:
        rows = self._db.execute(
            f"SELECT {_LEAD_COLUMNS} FROM leads ORDER BY created_at"
        ).fetchall()
        return [_lead(row) for row in rows]

    async def delete_leads(self, channel: str, user_id: str) -> int:
        """Delete one person's leads (their consent to be stored was withdrawn); how many."""
        cursor = self._db.execute(
            "DELETE FROM leads WHERE channel = ? AND user_id = ?", (channel, user_id)
        )
        self._checkpoint()
        return cursor.rowcount

    # -- consents -----------------------------------------------------------------------------

    async def save_consent(self, consent: Consent) -> None:
        self._db.execute(
            f"INSERT INTO consents ({_CONSENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (consent.channel, consent.user_id, consent.kind, consent.version, consent.at,
             consent.withdrawn_at),
        )

    async def consents(self, channel: str, user_id: str) -> list[Consent]:
        """One person's consents, oldest first, withdrawn ones included."""
        rows = self._db.execute(
            f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE channel = ? AND user_id = ?"
            " ORDER BY id",
            (channel, user_id),
        ).fetchall()
        return [Consent(*row) for row in rows]

    async def withdraw_consents(self, channel: str, user_id: str, at: float) -> int:
        """Mark every consent still standing as withdrawn; how many were."""
        cursor = self._db.execute(
            "UPDATE consents SET withdrawn_at = ?"
            " WHERE channel = ? AND user_id = ? AND withdrawn_at IS NULL",
            (at, channel, user_id),
        )
        return cursor.rowcount

    # -- staff relays -------------------------------------------------------------------------

    async def save_relay(
        self, staff_chat: str, message_id: str, channel: str, user_id: str
    ) -> None:
        """Remember whose conversation a staff notice is about, so staff can reply to it."""
        self._db.execute(
            "INSERT OR REPLACE INTO relays (staff_chat, message_id, channel, user_id, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (staff_chat, message_id, channel, user_id, time.time()),
        )

    async def relay_messages(self, channel: str, user_id: str) -> list[tuple[str, str]]:
        """Every staff notice about a person still on record: (staff place, message id)."""
        rows = self._db.execute(
            "SELECT staff_chat, message_id FROM relays WHERE channel = ? AND user_id = ?"
            " ORDER BY created_at",
            (channel, user_id),
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    async def relay_target(self, staff_chat: str, message_id: str) -> tuple[str, str] | None:
        """(channel, user_id) of the person a staff notice was about, if it was one of ours."""
        row = self._db.execute(
            "SELECT channel, user_id FROM relays WHERE staff_chat = ? AND message_id = ?",
            (staff_chat, message_id),
        ).fetchone()
        return (row[0], row[1]) if row else None

    # -- retention ----------------------------------------------------------------------------

    async def purge(self, older_than: float) -> dict[str, int]:
        """Delete conversations, events and leads last touched before a time; counts per table.

        Consents go with them and click marks expire too (neither is counted: they only ever
        exist beside the rows that are).
        """
        deleted = {}
        with self._db:
            self._db.execute("BEGIN")
            for table, column in (("conversations", "updated_at"), ("events", "at"),
                                  ("leads", "created_at"), ("relays", "created_at")):
                cursor = self._db.execute(
                    f"DELETE FROM {table} WHERE {column} < ?",
                    (older_than,),
                )
                deleted[table] = cursor.rowcount
            self._db.execute("DELETE FROM consents WHERE at < ?", (older_than,))
            self._db.execute("DELETE FROM clicks WHERE at < ?", (older_than,))
        if any(deleted.values()):
            self._checkpoint()
        return deleted

    async def close(self) -> None:
        self._db.close()


def _lead(row: tuple) -> Lead:
    return Lead(*row[:7], tuple(d for d in row[7].split(",") if d), *row[8:])
