"""PostgreSQL store: for several bot processes (replicas) on one database.

psycopg 3 with its connection pool. A turn is one transaction on one pooled connection that
first takes a transaction-scoped advisory lock on the person, so one person's turns run one at
a time whichever replica they reach, and everything the turn wrote commits together. Deleted
rows are gone in one transaction; the database's own storage (vacuum, backups, disk
encryption) is the operator's, see docs/deploy.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from bot.store import migrations
from bot.store.sql import Queries

POOL_SIZE = 10
OPEN_TIMEOUT = 15.0  # seconds to reach the database at start before giving up
MIGRATION_LOCK = 0x5054_0001  # an advisory lock id of our own: one replica migrates at a time
_PLACEHOLDER = re.compile(r"\?")

log = logging.getLogger(__name__)


class _Session(Queries):
    """The queries on one connection, inside a transaction the caller opened."""

    day_of = "to_char(to_timestamp(at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        cursor = await self._connection.execute(_PLACEHOLDER.sub("%s", sql), params)
        return await cursor.fetchall() if cursor.description else []

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._connection.execute(_PLACEHOLDER.sub("%s", sql), params)
        return cursor.rowcount

    def _in_transaction(self) -> bool:
        return True  # a session is always inside the transaction its caller opened


class PostgresStore(_Session):
    """Everything the bot keeps, in PostgreSQL; schema created and migrated at open."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.pool = AsyncConnectionPool(
            url, min_size=1, max_size=pool_size, open=False, kwargs={"autocommit": True},
            name="bot",
        )
        self._opened = False
        self._opening = asyncio.Lock()

    async def open(self) -> None:
        """Connect and bring the schema up to date (done once; every call is safe)."""
        async with self._opening:
            if self._opened:
                return
            await self.pool.open(wait=True, timeout=OPEN_TIMEOUT)
            async with self.pool.connection() as connection, connection.transaction():
                await _migrate(connection)
            self._opened = True

    async def schema_version(self) -> int:
        await self.open()
        async with self.pool.connection() as connection:
            cursor = await connection.execute("SELECT max(version) FROM schema_migrations")
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    @contextlib.asynccontextmanager
    async def _session(self, lock: str | None = None) -> AsyncIterator[_Session]:
        """A pooled connection in a transaction, holding the advisory lock named, if any."""
        await self.open()
        async with self.pool.connection() as connection, connection.transaction():
            if lock is not None:
                await connection.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,)
                )
            yield _Session(connection)

    def turn(self, channel: str, user_id: str) -> contextlib.AbstractAsyncContextManager[Queries]:
        """One person's turn: one transaction holding the person's lock across every replica;
        all of it commits at the end of the block, or none of it if the block raises."""
        return self._session(lock=f"{channel}\x1f{user_id}")

    # -- outside a turn: a statement is a transaction of its own, an `@atomic` method too ------

    def _in_transaction(self) -> bool:
        return False

    def _transaction(self) -> contextlib.AbstractAsyncContextManager[_Session]:
        return self._session()

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        async with self._session() as session:
            return await session._rows(sql, params)

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._session() as session:
            return await session._run(sql, params)

    async def close(self) -> None:
        await self.pool.close()


async def _migrate(connection: AsyncConnection) -> None:
    """Apply the migrations the database has not had, under a lock all replicas share."""
    await connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    cursor = await connection.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    row = await cursor.fetchone()
    done = int(row[0]) if row else 0
    for number, script in enumerate(migrations.POSTGRES[done:], start=done + 1):
        await connection.execute(script)  # type: ignore[arg-type]  # our own constant SQL
        await connection.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))
        log.info("database schema migrated to version %d", number)
