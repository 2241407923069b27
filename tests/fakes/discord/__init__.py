"""A fake Discord and the people who use the bot through it.

- server.py: the wire server (REST and the gateway on 127.0.0.1), what it keeps and records;
  strict by default: interaction windows, rate limits, gateway sessions (RESUME, RECONNECT,
  INVALID_SESSION), and every refusal in `refused`;
- rules.py: what Discord refuses in a message or a command sync, with its error and source;
- markdown.py: Discord Markdown read back as a person sees it;
- person.py: a person using slash commands, buttons and DMs, and a staff member replying;
  each action waits until the bot reports the update handled (`FakeDiscord.listen_to`).

Faults on request (`inject_faults`, `fail`): 429, 5xx or no answer on interaction responses,
follow-ups, edits, DM sends and DM creation.
"""

from tests.fakes.discord.markdown import Shown, pings_anyone, read
from tests.fakes.discord.person import Person, StaffMember
from tests.fakes.discord.server import (
    APP_ID,
    GUILD_ID,
    MANAGE_GUILD,
    PUBLIC_CHANNEL_ID,
    STAFF_CHANNEL_ID,
    FakeDiscord,
    Interaction,
    Sent,
)

__all__ = [
    "APP_ID",
    "GUILD_ID",
    "MANAGE_GUILD",
    "PUBLIC_CHANNEL_ID",
    "STAFF_CHANNEL_ID",
    "FakeDiscord",
    "Interaction",
    "Person",
    "Sent",
    "Shown",
    "StaffMember",
    "pings_anyone",
    "read",
]
