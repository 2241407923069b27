"""Conversation state storage behind one small interface: SQLite by default, PostgreSQL when
BOT_DATABASE_URL names one (imported only then)."""

from __future__ import annotations

from bot.settings import Settings
from bot.store.base import ConversationStore
from bot.store.sqlite import SQLiteStore

__all__ = ["ConversationStore", "SQLiteStore", "open_store"]


def open_store(settings: Settings) -> ConversationStore:
    """The store the settings choose (opened, for PostgreSQL, on first use or `open()`)."""
    if settings.database_url is not None:
        from bot.store.postgres import PostgresStore

        return PostgresStore(settings.database_url.get_secret_value().strip())
    return SQLiteStore(settings.database_path)
