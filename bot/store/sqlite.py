"""SQLite store: the embedded default, one file, WAL mode."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bot.core.conversation import Conversation
from bot.core.records import Lead, StatRow

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
"""

_LEAD_COLUMNS = (
    "channel, user_id, name, email, phone, source, flow, drivers, red_flag, created_at,"
    " flow_version, urgency"
)
# Columns added after the first release, for databases made before them.
_ADDED_COLUMNS = {
    "events": {"version": "TEXT NOT NULL DEFAULT ''"},
    "leads": {"flow_version": "TEXT NOT NULL DEFAULT ''", "urgency": "TEXT"},
}


class SQLiteStore:
    """Conversations, funnel events and leads in one SQLite file.

    Calls are synchronous inside the async methods on purpose: a primary-key read or a
    one-row upsert on a local WAL file takes microseconds, less than a hop to a thread pool.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()

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
        """Forget a person: their conversation, their events and their leads."""
        with self._db:
            self._db.execute("BEGIN")
            for table in ("conversations", "events", "leads", "relays"):
                self._db.execute(
                    f"DELETE FROM {table} WHERE channel = ? AND user_id = ?",
                    (channel, user_id),
                )

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
            f"INSERT INTO leads ({_LEAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (lead.channel, lead.user_id, lead.name, lead.email, lead.phone, lead.source,
             lead.flow, ",".join(lead.drivers), lead.red_flag, lead.created_at,
             lead.flow_version, lead.urgency),
        )

    async def leads(self) -> list[Lead]:
        rows = self._db.execute(
            f"SELECT {_LEAD_COLUMNS} FROM leads ORDER BY created_at"
        ).fetchall()
        return [
            Lead(*row[:7], tuple(d for d in row[7].split(",") if d), *row[8:]) for row in rows
        ]

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

    async def relay_target(self, staff_chat: str, message_id: str) -> tuple[str, str] | None:
        """(channel, user_id) of the person a staff notice was about, if it was one of ours."""
        row = self._db.execute(
            "SELECT channel, user_id FROM relays WHERE staff_chat = ? AND message_id = ?",
            (staff_chat, message_id),
        ).fetchone()
        return (row[0], row[1]) if row else None

    # -- retention ----------------------------------------------------------------------------

    async def purge(self, older_than: float) -> dict[str, int]:
        """Delete conversations, events and leads last touched before a time; counts per table."""
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
        return deleted

    async def close(self) -> None:
        self._db.close()
