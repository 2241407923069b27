"""SQLite conversation store: the embedded default, one file, WAL mode."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bot.engine.conversation import Conversation

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    channel    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    data       TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (channel, user_id)
) WITHOUT ROWID;
"""


class SQLiteStore:
    """Conversations in one SQLite file.

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
        self._db.execute(
            "DELETE FROM conversations WHERE channel = ? AND user_id = ?", (channel, user_id)
        )

    async def close(self) -> None:
        self._db.close()
