"""Staff accounts of the dashboard: who may sign in, their argon2 password hashes, and the
sign-in decision (right password, wrong password or locked out), timing-safe."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email

from bot.settings import Settings
from bot.store.base import ConversationStore

MIN_PASSWORD = 12  # characters; NIST SP 800-63B asks for at least 8, we ask a little more
MAX_PASSWORD = 1024  # characters; more is refused rather than hashed (a cheap denial of service)
CHECKS_AT_ONCE = 2  # password checks running at the same time, at most
# argon2id at RFC 9106's second recommended cost (64 MiB, 3 passes): the library's default
PRODUCTION_COST = profiles.RFC_9106_LOW_MEMORY


class AccountError(ValueError):
    """An email or password a staff account cannot have; the message says why, plainly."""


def staff_email(value: str) -> str:
    """A staff email, checked and normalised (lower case); AccountError when it is not one."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise AccountError(f"not a valid email address: {error}") from None
    return checked.normalized.lower()


def check_password(password: str) -> str:
    """The password if it is long enough and not too long; AccountError otherwise."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters")
    return password


class Passwords:
    """Hashes staff passwords and checks them against their hashes, with argon2id at `cost`."""

    def __init__(self, cost: Parameters = PRODUCTION_COST) -> None:
        self.cost = cost
        self._hasher = PasswordHasher.from_parameters(cost)

    def hash(self, password: str) -> str:
        """An argon2id hash of a password that passed `check_password`."""
        return self._hasher.hash(check_password(password))

    def verifies(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether a hash was made at another cost than this one's."""
        return self._hasher.check_needs_rehash(password_hash)

    @functools.cached_property
    def stand_in_hash(self) -> str:
        """A hash no password matches, checked when the email has no account, so an unknown
        email takes as long to refuse as a wrong password."""
        return self._hasher.hash("stand-in for an account that does not exist")


PASSWORDS = Passwords()  # what the bot and its CLI use


def hash_password(password: str) -> str:
    """An argon2id hash, at the production cost, of a password that passed `check_password`."""
    return PASSWORDS.hash(password)


class Outcome(Enum):
    """What a sign-in attempt came to."""

    SIGNED_IN = "signed in"
    REFUSED = "refused"  # unknown email or wrong password: one answer for both
    LOCKED = "locked"  # too many failures in a row for the account or the address


@dataclass(frozen=True)
class Limits:
    """How many failures in a row lock an account or an address out, and for how long."""

    per_account: int
    per_address: int
    lockout: float  # seconds

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.admin_max_failures, settings.admin_max_failures_per_address,
                   settings.admin_lockout_minutes * 60.0)


def _key(salt: bytes, kind: str, value: str) -> str:
    """A failure counter's key: a keyed hash, so no address or mistyped email is kept as
    typed, nor recovered by hashing every address or a list of emails (an unkeyed SHA-256
    of them was)."""
    return f"{kind}:{hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()}"


class SignIn:
    """Decides sign-ins: the password against its hash, failures counted per account and per
    address, lock-out once either reaches its limit, for `lockout` seconds after the last."""

    def __init__(self, store: ConversationStore, limits: Limits,
                 passwords: Passwords = PASSWORDS, salt: bytes | None = None) -> None:
        self.store, self.limits, self.passwords = store, limits, passwords
        # The settings' link key (the same on every replica when BOT_LINK_SECRET is set).
        self.salt = salt if salt is not None else secrets.token_bytes(32)
        # A check takes ~64 MiB and tens of milliseconds: a flood of sign-ins waits its turn
        # rather than taking the host's memory.
        self._checking = asyncio.Semaphore(CHECKS_AT_ONCE)

    async def attempt(self, email: str, password: str, address: str, now: float) -> Outcome:
        """Try to sign in at `now`; an unknown email is refused exactly like a wrong password."""
        email = email.strip().lower()
        account = _key(self.salt, "account", email)
        place = _key(self.salt, "address", address)
        if (await self._locked(account, self.limits.per_account, now)
                or await self._locked(place, self.limits.per_address, now)):
            return Outcome.LOCKED
        stored = await self.store.staff_password_hash(email) if email else None
        password = password[:MAX_PASSWORD + 1]  # never hash megabytes; too long fails anyway
        async with self._checking:
            right = await asyncio.to_thread(
                self.passwords.verifies, stored or self.passwords.stand_in_hash, password)
        if right and stored is not None and len(password) <= MAX_PASSWORD:
            await self.store.clear_sign_in_failures(account)
            if self.passwords.needs_rehash(stored):  # made with older parameters
                rehashed = await asyncio.to_thread(self.passwords.hash, password)
                await self.store.set_staff_password_hash(email, rehashed)
            return Outcome.SIGNED_IN
        forget_before = now - self.limits.lockout
        failures = await self.store.count_sign_in_failure(account, now, forget_before)
        from_here = await self.store.count_sign_in_failure(place, now, forget_before)
        if failures >= self.limits.per_account or from_here >= self.limits.per_address:
            return Outcome.LOCKED
        return Outcome.REFUSED

    async def _locked(self, key: str, limit: int, now: float) -> bool:
        failures, last = await self.store.sign_in_failures(key)
        return failures >= limit and now - last < self.limits.lockout
