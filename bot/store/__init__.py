"""Conversation state storage behind one small interface."""

from bot.store.base import ConversationStore
from bot.store.sqlite import SQLiteStore

__all__ = ["ConversationStore", "SQLiteStore"]
