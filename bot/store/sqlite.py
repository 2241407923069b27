"""SQLite store: the embedded default, one file, WAL mode, readable by the bot's user alone.

Deleted rows leave nothing behind: `secure_delete` overwrites them with zeros, and after a
forget or a purge the write-ahead log is checkpointed into the database and truncated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from bot.store import migrations
from bot.store.sql import Queries

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
DATABASE_SIDE_FILES = ("-wal", "-shm", "-journal")
MEMORY = ":memory:"
BUSY_TIMEOUT = 5.0  # seconds a turn waits for another process's write to finish

log = logging.getLogger(__name__)


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
        # A side file (the rollback journal) may vanish between the look and the change:
        # another process's transaction ended. Gone is as private as it gets.
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o777 != PRIVATE_FILE:
                os.chmod(file, PRIVATE_FILE)


def _statements(script: str) -> list[str]:
    """A migration's statements one by one (`executescript` would commit the transaction that
    holds the write lock before running them)."""
    statements, statement = [], ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            statements.append(statement.strip())
            statement = ""
    if any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines()):
        statements.append(statement.strip())  # a last statement without its semicolon
    return statements


class StoreBusy(RuntimeError):
    """Another process held the database for longer than the busy timeout."""


class SQLiteStore(Queries):
    """Conversations, funnel events, leads, outgoing messages and updates applied, in one
    SQLite file.

    Calls are synchronous inside the async methods on purpose: a primary-key read or a
    one-row upsert on a local WAL file takes microseconds, less than a hop to a thread pool.
    A turn is an immediate write transaction: it holds the database's write lock, so turns of
    several processes on one file (the bot and a `say`) run one after another.
    """

    def __init__(self, path: Path | str, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = str(path)
        on_disk = self.path != MEMORY
        if on_disk:
            private_database(Path(self.path))
        # The busy timeout is set by connect, so it covers the pragmas and the migration too.
        self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        try:
            self._db.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten with zeros
            self._write_ahead_log(busy_timeout)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except BaseException:
            self._db.close()  # and with it any transaction and lock it held
            raise
        if on_disk:
            _make_private(Path(self.path))
        self._turn_lock = asyncio.Lock()  # one connection: one transaction at a time
        self._in_turn = False
        self._checkpoint_due = False

    def _write_ahead_log(self, busy_timeout: float) -> None:
        """Put the file in WAL mode (once per file). Two processes turning a new file to WAL
        at once can be refused at once rather than after a wait (SQLite sees a deadlock and
        skips the busy handler): tried again until the busy timeout."""
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy("the database is busy with another process") from None
            time.sleep(0.01)

    def _migrate(self) -> None:
        """Apply the migrations this file has not had, all in one immediate transaction. The
        version is read again once the write lock is held: processes opening a new file
        together (the bot and a `say`) migrate it once, one after the other."""
        if self._version() >= len(migrations.SQLITE):
            return
        self._begin()
        try:
            version = self._version()
            for number, script in enumerate(migrations.SQLITE[version:], start=version + 1):
                for statement in _statements(script):
                    self._db.execute(statement)
                if number == 1:
                    self._add_missing_columns()
                self._db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _add_missing_columns(self) -> None:
        for table, columns in migrations.SQLITE_ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    async def open(self) -> None:
        """Nothing to do: the file is opened and migrated when the store is made."""

    async def schema_version(self) -> int:
        return self._version()

    # -- how statements run -------------------------------------------------------------------

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._db.execute(sql, params).fetchall()

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._db.execute(sql, params).rowcount

    def _in_transaction(self) -> bool:
        return self._in_turn

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SQLiteStore]:
        self._begin()
        try:
            yield self
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _begin(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StoreBusy("the database is busy with another process") from None
            raise

    @contextlib.asynccontextmanager
    async def turn(self, channel: str, user_id: str) -> AsyncIterator[SQLiteStore]:
        """One person's turn: everything done through the store it yields is committed
        together at the end of the block, or rolled back if the block raises."""
        async with self._turn_lock:
            self._begin()
            self._in_turn = True
            try:
                yield self
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._in_turn = False
            if self._checkpoint_due:
                self._checkpoint()

    # -- what deletes leave behind ------------------------------------------------------------

    async def delete(self, channel: str, user_id: str) -> None:
        """Forget a person: their conversation, events, leads, consents, staff notices, updates
        and waiting messages, in one transaction, then nothing left of them in the log either."""
        await super().delete(channel, user_id)
        self._checkpoint()

    async def delete_leads(self, channel: str, user_id: str) -> int:
        deleted = await super().delete_leads(channel, user_id)
        self._checkpoint()
        return deleted

    async def purge(self, older_than: float, unanswered_before: float | None = None,
                    forms: tuple[str, ...] = ()) -> dict[str, int]:
        deleted = await super().purge(older_than, unanswered_before, forms)
        if any(deleted.values()):
            self._checkpoint()
        return deleted

    def _checkpoint(self) -> None:
        """Move the write-ahead log into the database and empty it, so deleted rows survive in
        neither file (their pages in the database were zeroed by secure_delete). Inside a turn
        it waits for the commit."""
        if self._in_turn:
            self._checkpoint_due = True
            return
        self._checkpoint_due = False
        busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("the database log could not be emptied now (another reader); deleted "
                        "rows stay in it until the next checkpoint")

    async def close(self) -> None:
        self._db.close()
