"""How the store's statements run: one at a time, or several as one transaction (`atomic`).

Every query class of the store (bot/store/sql.py and the parts it combines) runs its SQL
through `Statements`. A method that runs more than one statement is marked `@atomic`: outside
a turn it runs in a transaction of its own, on SQLite and PostgreSQL alike; inside a turn it
runs in the turn's transaction, which commits or rolls back as a whole anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Concatenate, ParamSpec, TypeVar

Owner = TypeVar("Owner", bound="Statements")
Params = ParamSpec("Params")
Result = TypeVar("Result")


class Statements:
    """Running SQL with `?` placeholders on one connection; each backend says how."""

    def _in_transaction(self) -> bool:
        """Whether the statements run inside a transaction already (a turn's)."""
        raise NotImplementedError

    def _transaction(self) -> AbstractAsyncContextManager[Statements]:
        """A transaction of its own: the statements object to run it on, committed at the end
        of the block, rolled back if the block raises."""
        raise NotImplementedError

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run a query; its rows."""
        raise NotImplementedError

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; how many rows it changed."""
        raise NotImplementedError

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        rows = await self._rows(sql, params)
        return rows[0] if rows else None

    async def ping(self) -> None:
        """Raises when the database does not answer."""
        await self._rows("SELECT 1")


def atomic(
    method: Callable[Concatenate[Owner, Params], Awaitable[Result]],
) -> Callable[Concatenate[Owner, Params], Awaitable[Result]]:
    """Mark a method of several statements: all of them take effect, or none."""

    @functools.wraps(method)
    async def all_or_nothing(self: Owner, *args: Params.args, **kwargs: Params.kwargs) -> Result:
        if self._in_transaction():
            return await method(self, *args, **kwargs)
        async with self._transaction() as statements:
            return await method(statements, *args, **kwargs)  # type: ignore[arg-type]

    return all_or_nothing
