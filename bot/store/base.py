"""The interface every store implements (SQLite now; Redis for replicas later)."""

from __future__ import annotations

from typing import Protocol

from bot.core.conversation import Conversation
from bot.core.records import Lead, StatRow


class ConversationStore(Protocol):
    """Conversations by (channel, user_id), plus funnel events and leads."""

    async def load(self, channel: str, user_id: str) -> Conversation | None:
        """The saved conversation, or None for someone new."""

    async def save(self, conversation: Conversation) -> None:
        """Persist the conversation (called after every turn)."""

    async def delete(self, channel: str, user_id: str) -> None:
        """Remove everything stored about this person on this channel: state, events, leads."""

    async def record(
        self, kind: str, channel: str, user_id: str, flow: str, detail: str = "",
        at: float | None = None, version: str = "",
    ) -> None:
        """Append one funnel event (outcomes carry the flow version they came from)."""

    async def events(self, channel: str, user_id: str) -> list[tuple[str, str, str, str]]:
        """One person's funnel events, oldest first: (kind, flow, detail, version)."""

    async def stats(self) -> list[StatRow]:
        """Event counts by day, channel, flow and kind."""

    async def save_lead(self, lead: Lead) -> None:
        """Keep a consented lead."""

    async def leads(self) -> list[Lead]:
        """Every lead, oldest first."""

    async def save_relay(
        self, staff_chat: str, message_id: str, channel: str, user_id: str
    ) -> None:
        """Remember whose conversation a staff notice is about."""

    async def relay_target(self, staff_chat: str, message_id: str) -> tuple[str, str] | None:
        """(channel, user_id) for a staff notice, if it was one of ours."""

    async def purge(self, older_than: float) -> dict[str, int]:
        """Delete what is older than the retention window."""

    async def close(self) -> None:
        """Release connections."""
