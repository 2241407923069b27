"""The interface every conversation store implements (SQLite now, Redis for replicas)."""

from __future__ import annotations

from typing import Protocol

from bot.engine.conversation import Conversation


class ConversationStore(Protocol):
    """Load and save conversations by (channel, user_id)."""

    async def load(self, channel: str, user_id: str) -> Conversation | None:
        """The saved conversation, or None for someone new."""

    async def save(self, conversation: Conversation) -> None:
        """Persist the conversation (called after every turn)."""

    async def delete(self, channel: str, user_id: str) -> None:
        """Remove everything stored about this person on this channel."""

    async def close(self) -> None:
        """Release connections."""
