"""The Telegram channel: python-telegram-bot updates in, engine Events through, HTML out.

- render.py: light markup as Telegram HTML, chunks under the limit, keyboards and their layout;
- send.py: replies sent, pressed messages edited or tidied, spinners stopped;
- handlers.py: what the person did -> Event -> engine -> reply;
- ordering.py: each chat's updates one by one, many chats at once;
- webhook.py: the webhook route on the one web server, with its secret-token check;
- profile.py: what a person sees before writing: descriptions, command menus by chat type;
- staff.py: the staff chat: notices in, staff replies out to the person, on any channel;
- lifecycle.py: `TelegramChannel`, started and stopped by bot/run.py.
"""

from bot.channels.telegram.lifecycle import TelegramChannel

__all__ = ["TelegramChannel"]
