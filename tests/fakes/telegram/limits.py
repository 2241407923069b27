"""What the Bot API refuses besides a message's HTML (entities.py): inline keyboards, command
menus, webhook addresses, and its flood control, each with the description Telegram answers.

Where each rule comes from:

- telegram-bot-api (github.com/tdlib/telegram-bot-api) telegram-bot-api/Client.cpp: the
  checks of the Bot API server itself (the JSON of a keyboard or of commands, setWebhook's
  secret token, getUpdates conflicts), and how it words tdlib's errors: "Xyz" becomes
  "Bad Request: xyz" (`fail_query_with_error`);
- telegram-bot-api/WebhookActor.cpp: which webhook addresses Telegram will post to;
- tdlib (github.com/tdlib/td): td/telegram/ReplyMarkup.cpp (`get_inline_keyboard_button`),
  td/telegram/LinkManager.cpp (`check_link`), td/telegram/BotCommand.cpp (`set_commands`);
- the Telegram servers' own errors (UPPER_CASE, passed on as "Bad Request: BUTTON_DATA_INVALID"),
  with the limits the Bot API documentation gives (https://core.telegram.org/bots/api,
  "InlineKeyboardButton": callback_data 1-64 bytes; "BotCommand": 1-32 characters of a-z, 0-9
  and _; "setMyCommands": at most 100 commands);
- flood control: https://core.telegram.org/bots/faq, "My bot is hitting limits, how do I avoid
  this?": in one chat "avoid sending more than one message per second. We may allow short bursts
  that go over this limit, but eventually you'll begin receiving 429 errors"; "your bot will
  not be able to send more than 20 messages per minute to the same group"; bulk notifications
  "not more than 30 messages per second or so". A 429 is "Too Many Requests: retry after N"
  with `parameters.retry_after` N (telegram-bot-api/Query.cpp `set_retry_after_error`).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.telegram.entities import LinkError, check_link, parse_url

# -- inline keyboards --------------------------------------------------------------------------

CALLBACK_DATA_BYTES = 64  # Bot API docs, InlineKeyboardButton.callback_data: 1-64 bytes
# The fields that make a button what it is (Client.cpp get_inline_keyboard_button_type, in the
# order it looks at them: a button with both a url and callback_data is a URL button).
BUTTON_KINDS = ("url", "callback_data", "callback_game", "pay", "switch_inline_query",
                "switch_inline_query_chosen_chat", "switch_inline_query_current_chat",
                "login_url", "web_app", "copy_text")

Markup = dict[str, Any]


class Refused(Exception):
    """A Bot API error answer: its status, description and, for a 429, the wait."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


def bad_request(description: str) -> Refused:
    return Refused(400, f"Bad Request: {description}")


def read_reply_markup(value: Any) -> Markup | None:
    """The reply_markup parameter as the Bot API server reads it before anything else
    (Client.cpp get_reply_markup): an object, an inline keyboard made of rows of buttons that
    are objects with a text, each of a kind a bot may send (no bare text button). An empty
    inline keyboard is no keyboard. Reply keyboards and other kinds pass as they are."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_request("can't parse reply keyboard markup JSON object") from None
    if not isinstance(value, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" not in value:
        return value
    rows = value["inline_keyboard"]
    if not isinstance(rows, list):
        raise bad_request('field "inline_keyboard" must be of type Array')
    keyboard = []
    for row in rows:
        if not isinstance(row, list):
            raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an '
                              "Array of Arrays")
        keyboard.append([_read_button(button) for button in row])
    return {**value, "inline_keyboard": keyboard} if keyboard else None


def _read_button(button: Any) -> dict[str, Any]:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad_request(prefix + 'Can\'t find field "text"')
    if not isinstance(button["text"], str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    for name in ("url", "callback_data"):
        if not isinstance(button.get(name, ""), str):
            raise bad_request(prefix + f'Field "{name}" must be of type String')
    # An empty url or callback_data counts as absent; the first kind present wins.
    kind = next((name for name in BUTTON_KINDS
                 if (button.get(name) if name in ("url", "callback_data") else name in button)),
                None)
    if kind is None:
        raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")
    return {k: v for k, v in button.items() if k not in BUTTON_KINDS} | {kind: button[kind]}


def check_buttons(markup: Markup | None) -> Markup | None:
    """tdlib's checks of each inline button (ReplyMarkup.cpp get_inline_keyboard_button): a
    text, and a URL it accepts (LinkManager.cpp check_link: http(s) with a dotted host, or
    tg://), which it keeps normalised (`https://x.test` -> `https://x.test/`)."""
    if not markup or "inline_keyboard" not in markup:
        return markup
    keyboard = []
    for row in markup["inline_keyboard"]:
        checked = []
        for button in row:
            if not button["text"]:
                raise bad_request("inline keyboard button text must be non-empty")
            if "url" in button:
                try:
                    button = {**button, "url": check_link(button["url"])}
                except LinkError as error:
                    raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid: "
                                      f"{error}") from None
            checked.append(button)
        keyboard.append(checked)
    return {**markup, "inline_keyboard": keyboard}


def check_button_data(markup: Markup | None) -> None:
    """Telegram's servers: callback data of 1-64 bytes (Bot API docs, InlineKeyboardButton)."""
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if len(button.get("callback_data", "").encode()) > CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")


# -- command menus -----------------------------------------------------------------------------

COMMANDS_LIMIT = 100  # Bot API docs, setMyCommands: "At most 100 commands can be specified."
COMMAND_LENGTH, COMMAND_DESCRIPTION_LENGTH = 32, 256  # tdlib BotCommand.cpp set_commands
COMMAND_NAME = re.compile(r"[a-z0-9_]+")  # Bot API docs, BotCommand.command
_TRIMMED = " \t\r\n\0\v"  # tdutils trim()


def check_commands(commands: Any) -> list[dict[str, str]]:
    """setMyCommands' `commands` as Telegram keeps them, or its refusal.

    Client.cpp get_bot_commands reads the JSON; tdlib (BotCommand.cpp set_commands) trims each
    command and description, drops a leading "/", and refuses either empty or too long (in
    characters); Telegram's servers refuse more than 100 commands (BOT_COMMANDS_TOO_MUCH) and a
    command with anything but lowercase letters, digits and "_" (BOT_COMMAND_INVALID). A command
    given twice is kept once, with its last description (observed: a probe of the live API,
    dev.to/charliemorrison, "Telegram Bot Commands: 100 Max, and Two Rewrites")."""
    if commands is None or commands == "":
        return []
    if isinstance(commands, str):
        try:
            commands = json.loads(commands)
        except ValueError:
            raise bad_request("can't parse commands JSON object") from None
    if not isinstance(commands, list):
        raise bad_request("expected an Array of BotCommand")
    read = []
    for command in commands:
        prefix = "can't parse BotCommand: "
        if not isinstance(command, dict):
            raise bad_request(prefix + "expected an Object")
        for name in ("command", "description"):
            if name not in command:
                raise bad_request(prefix + f'Can\'t find field "{name}"')
            if not isinstance(command[name], str):
                raise bad_request(prefix + f'Field "{name}" must be of type String')
        read.append((command["command"], command["description"]))
    kept: dict[str, str] = {}
    for name, description in read:
        name = name.strip(_TRIMMED).removeprefix("/")
        if not name:
            raise bad_request("command must be non-empty")
        if len(name) > COMMAND_LENGTH:
            raise bad_request(f"command length must not exceed {COMMAND_LENGTH}")
        description = description.strip(_TRIMMED)
        if not description:
            raise bad_request("command description must be non-empty")
        if len(description) > COMMAND_DESCRIPTION_LENGTH:
            raise bad_request("command description length must not exceed "
                              f"{COMMAND_DESCRIPTION_LENGTH}")
        kept[name] = description
    if len(read) > COMMANDS_LIMIT:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    if not all(COMMAND_NAME.fullmatch(name) for name in kept):
        raise bad_request("BOT_COMMAND_INVALID")
    return [{"command": name, "description": text} for name, text in kept.items()]


# -- webhooks ----------------------------------------------------------------------------------

WEBHOOK_PORTS = (443, 80, 88, 8443)  # WebhookActor.cpp start_up; Bot API docs, setWebhook
SECRET_TOKEN_LENGTH = 256  # Client.cpp do_set_webhook; Bot API docs: 1-256 of A-Z a-z 0-9 _ -
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]*")  # tdutils is_base64url_characters


def check_webhook(url: str, secret_token: str) -> None:
    """setWebhook's address and secret token, or Telegram's refusal.

    Client.cpp do_set_webhook parses the URL (https by default) and checks the secret token;
    WebhookActor.cpp then refuses plain http, ports other than 443, 80, 88 and 8443, and an
    address that is not public ("IP address 127.0.0.1 is reserved"). The fake does not resolve
    host names: any name is taken as public, and the fake posts to it through `reverse_proxy`
    or `replicas` (the bot's HTTPS proxy, as the tests set it up): that is its one loopback
    exception. An IP literal or `localhost` is checked as Telegram checks the address it
    resolves."""
    try:
        parsed = parse_url(url, default_https=True)
    except LinkError:
        raise bad_request("invalid webhook URL specified") from None
    if len(secret_token) > SECRET_TOKEN_LENGTH:
        raise bad_request("secret token is too long")
    if not SECRET_TOKEN.fullmatch(secret_token):
        raise bad_request("secret token contains unallowed characters")
    if not parsed.https:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if parsed.port not in WEBHOOK_PORTS:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    host = "127.0.0.1" if parsed.host == "localhost" else parsed.host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: taken as public (see above)
    if address.version == 6:
        raise bad_request("bad webhook: IPv6-only addresses are not allowed")
    if not address.is_global:
        raise bad_request(f"bad webhook: IP address {address} is reserved")


# -- flood control -----------------------------------------------------------------------------


@dataclass
class _Bucket:
    tokens: float
    stamp: float

    def wait(self, capacity: float, per_second: float, now: float) -> float:
        """Seconds until one message may go (0: now), the bucket refilled to `now`."""
        self.tokens = min(capacity, self.tokens + (now - self.stamp) * per_second)
        self.stamp = now
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / per_second


@dataclass
class FloodControl:
    """How many messages Telegram lets a bot send, as token buckets (a burst up to the bucket,
    then the rate; python-telegram-bot's AIORateLimiter paces a bot the same way). Set a rate to
    0 to lift that limit. Telegram's FAQ gives these rates; it does not give the size of a
    chat's "short bursts" (`chat_burst`), which is kept lenient enough for a test person who
    presses buttons much faster than anyone could."""

    chat_per_second: float = 1.0  # in any one chat (FAQ: "more than one message per second")
    chat_burst: int = 40  # FAQ: "We may allow short bursts that go over this limit"
    group_per_minute: float = 20.0  # in one group or supergroup (FAQ: "20 messages per minute")
    overall_per_second: float = 30.0  # all chats together (FAQ: "30 messages per second or so")
    # The 429s answered: (chat id, retry_after, the limit: "chat", "group" or "overall").
    refused: list[tuple[int, int, str]] = field(default_factory=list)
    _buckets: dict[tuple[str, int], _Bucket] = field(default_factory=dict, repr=False)

    def admit(self, chat_id: int, group: bool, now: float) -> None:
        """Count a message to the chat, or raise Refused(429) with the whole seconds to wait
        (nothing is counted then)."""
        limits = [(("overall", 0), self.overall_per_second, self.overall_per_second),
                  (("chat", chat_id), self.chat_burst, self.chat_per_second)]
        if group:
            limits.append((("group", chat_id), self.group_per_minute, self.group_per_minute / 60))
        limits = [(key, capacity, rate) for key, capacity, rate in limits if capacity and rate]
        buckets = [(self._buckets.setdefault(key, _Bucket(capacity, now)), capacity, rate)
                   for key, capacity, rate in limits]
        waits = [(bucket.wait(capacity, rate, now), key[0])
                 for (bucket, capacity, rate), (key, _, _) in zip(buckets, limits, strict=True)]
        wait, limit = max(waits, default=(0.0, ""))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self.refused.append((chat_id, retry_after, limit))
            raise Refused(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        for bucket, _, _ in buckets:
            bucket.tokens -= 1
