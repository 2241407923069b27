"""The practice's dashboard: staff accounts, their sessions and failed sign-ins."""

from __future__ import annotations

from bot.store.statements import Statements, atomic


class StaffQueries(Statements):
    """Staff accounts (a password hash), signed-in sessions (a token hash), sign-in failures."""

    async def add_staff(self, email: str, password_hash: str, at: float) -> bool:
        """Create a staff account; False when one with this email exists."""
        return await self._run(
            "INSERT INTO staff (email, password_hash, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (email) DO NOTHING", (email, password_hash, at),
        ) == 1

    async def staff_password_hash(self, email: str) -> str | None:
        """The stored password hash of a staff account, or None when there is no such account."""
        row = await self._one("SELECT password_hash FROM staff WHERE email = ?", (email,))
        return str(row[0]) if row else None

    async def set_staff_password_hash(self, email: str, password_hash: str) -> None:
        """Replace a staff account's hash (a rehash with stronger parameters)."""
        await self._run("UPDATE staff SET password_hash = ? WHERE email = ?",
                        (password_hash, email))

    @atomic
    async def remove_staff(self, email: str) -> bool:
        """Delete a staff account and its sessions; False when there was none."""
        await self._run("DELETE FROM staff_sessions WHERE email = ?", (email,))
        return await self._run("DELETE FROM staff WHERE email = ?", (email,)) == 1

    async def staff_accounts(self) -> list[tuple[str, float]]:
        """Every staff account: (email, created at), by email."""
        rows = await self._rows("SELECT email, created_at FROM staff ORDER BY email")
        return [(str(row[0]), float(row[1])) for row in rows]

    @atomic
    async def start_staff_session(
        self, token_hash: str, email: str, csrf: str, at: float, expires_at: float
    ) -> None:
        """Keep a signed-in session (by the hash of its token); expired ones go at the same time."""
        await self._run("DELETE FROM staff_sessions WHERE expires_at <= ?", (at,))
        await self._run(
            "INSERT INTO staff_sessions (token_hash, email, csrf, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)", (token_hash, email, csrf, at, expires_at),
        )

    async def staff_session(self, token_hash: str, now: float) -> tuple[str, str] | None:
        """(email, CSRF token) of a session still valid at `now` whose account exists."""
        row = await self._one(
            "SELECT s.email, s.csrf FROM staff_sessions AS s JOIN staff AS a ON a.email = s.email"
            " WHERE s.token_hash = ? AND s.expires_at > ?", (token_hash, now),
        )
        return (str(row[0]), str(row[1])) if row else None

    async def end_staff_session(self, token_hash: str) -> None:
        """Sign a session out."""
        await self._run("DELETE FROM staff_sessions WHERE token_hash = ?", (token_hash,))

    async def count_sign_in_failure(self, key: str, at: float, forget_before: float) -> int:
        """Count one failed sign-in for a key (an account or an address); how many in a row
        now. A count whose last failure came before `forget_before` starts again at one."""
        row = await self._one(
            "INSERT INTO sign_in_failures (key, failures, last_at) VALUES (?, 1, ?)"
            " ON CONFLICT (key) DO UPDATE SET failures = CASE"
            " WHEN sign_in_failures.last_at < ? THEN 1 ELSE sign_in_failures.failures + 1 END,"
            " last_at = excluded.last_at RETURNING failures",
            (key, at, forget_before),
        )
        assert row is not None
        return int(row[0])

    async def sign_in_failures(self, key: str) -> tuple[int, float]:
        """(failures in a row, when the last was) for a key; (0, 0.0) when there are none."""
        row = await self._one("SELECT failures, last_at FROM sign_in_failures WHERE key = ?",
                              (key,))
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    async def clear_sign_in_failures(self, key: str) -> None:
        """Forget a key's failures (it signed in)."""
        await self._run("DELETE FROM sign_in_failures WHERE key = ?", (key,))
