"""Conversation state storage behind one small interface: SQLite by default, PostgreSQL when
BOT_DATABASE_URL names one (imported only then)."""

from __future__ import annotations

import re
import sqlite3

from bot.settings import Settings
from bot.store.base import ConversationStore
from bot.store.sqlite import SQLiteStore

__all__ = ["ConversationStore", "SQLiteStore", "database_errors", "open_store",
           "without_password"]


def open_store(settings: Settings) -> ConversationStore:
    """The store the settings choose (opened, for PostgreSQL, on first use or `open()`)."""
    if settings.database_url is not None:
        from bot.store.postgres import PostgresStore

        return PostgresStore(settings.database_url.get_secret_value().strip())
    return SQLiteStore(settings.database_path)


def database_errors(settings: Settings) -> tuple[type[Exception], ...]:
    """What the settings' database raises when it fails (a full or failing disk, a server that
    does not answer): psycopg's errors for PostgreSQL, sqlite3's otherwise."""
    if settings.database_url is not None:
        import psycopg

        return (psycopg.Error,)
    return (sqlite3.Error,)


def without_password(text: str) -> str:
    """A database error without the password of a URL it may quote."""
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
