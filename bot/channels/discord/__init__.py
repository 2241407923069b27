"""The Discord channel: slash commands, buttons and DMs on discord.py, no dialog logic.

`render` (light markup to Discord Markdown, buttons), `menu` (slash commands from the command
registry), `interactions` (commands and presses), `dms` (typed DMs), `staff` (the staff
channel), `lifecycle` (`DiscordChannel`: start, stop, deliver).
"""

from bot.channels.discord.lifecycle import DiscordChannel

__all__ = ["DiscordChannel"]
