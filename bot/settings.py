"""Settings: embedded defaults, an optional YAML settings file, then BOT_* environment variables.

Everything that belongs to the practice lives here, so another practice runs the bot by editing
`settings.yaml` (or the environment), never code. Settings that cannot work fail when they are
read, each with one plain line naming the setting and what is wrong (`SettingsError`).

Each setting is a typed field of a dataclass; `Annotated` marks add what its type does not say:
`Check` a rule its value must pass, `ReadAs` how a value given as one string is read first.
The standard library does the rest: these few types need no validation library, and pydantic
with pydantic-settings added 9 MiB to every process, which starts at 59 MiB without them
(docs/telegram.md#benchmark).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import re
import secrets
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.core import jsontext

PLACEHOLDER_HOST = "example.com"
ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "BOT_"
SETTINGS_FILE_VARIABLE = "BOT_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = Path("settings.yaml")
DATABASE_FILE = "bot.sqlite3"
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_FLOW_ID = re.compile(r"""^id:\s*["']?([\w-]+)""", re.MULTILINE)
_SHOWN_INPUT = 60  # characters of a wrong value repeated in the error line


class SettingsError(ValueError):
    """Settings that cannot work; `lines` holds one plain line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class SecretStr:
    """A secret (a token, a key, an address with a password): never shown by repr or str, so a
    logged or printed setting cannot leak it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Check:
    """A rule a setting's value must pass once it has its type: returns the value, or raises
    ValueError saying what is wrong ("must be ...")."""

    rule: Callable[[Any], Any]


@dataclass(frozen=True)
class ReadAs:
    """How a value is read before it is given its type (a list from one comma-separated string)."""

    read: Callable[[Any], Any]


def between(low: float | None = None, high: float | None = None, *,
            above: float | None = None) -> Check:
    """A number from `low` (or more than `above`) up to `high`, each bound optional."""
    def rule(value: float) -> float:
        # Written as "not inside" so that NaN, which compares false to everything, is refused.
        if not ((low is None or value >= low) and (above is None or value > above)
                and (high is None or value <= high)):
            raise ValueError(f"must be {_span(low, high, above)}")
        return value
    return Check(rule)


def _span(low: float | None, high: float | None, above: float | None) -> str:
    if low is not None and high is not None:
        return f"from {low:g} to {high:g}"
    bounds = [f"{words} {bound:g}" for words, bound in
              (("at least", low), ("more than", above), ("at most", high)) if bound is not None]
    return " and ".join(bounds)


def _http_url(value: str) -> str:
    """An absolute http(s) address with a host and no spaces (never `javascript:` and the like)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// address")
    if any(ch.isspace() for ch in value):
        raise ValueError("must be an address without spaces")
    return value


def _public_url(value: str) -> str:
    """An address people open from a chat: Telegram refuses link buttons to a host without a
    dot ("Wrong HTTP URL"; tdlib's url check), so `http://localhost:8080` cannot be one."""
    host = urlsplit(_http_url(value)).hostname or ""
    if "." not in host.strip("."):
        raise ValueError(f"must be a public address whose host has a dot ({host!r} has none; "
                         "Telegram refuses buttons that link to hosts such as localhost)")
    return value


BOOKING_URL_LIMIT = 400  # Discord's link buttons take 512; the bot adds its tags and a summary


def _booking_url(value: str) -> str:
    if len(_public_url(value)) > BOOKING_URL_LIMIT:
        raise ValueError(f"must be at most {BOOKING_URL_LIMIT} characters (Discord's link "
                         "buttons take 512, and the bot adds where people came from)")
    return value


def _optional_public_url(value: str) -> str:
    return _public_url(value) if value else value


def _optional_http_url(value: str) -> str:
    return _http_url(value) if value else value


WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram posts to (Bot API: setWebhook)


def _webhook_url(value: str) -> str:
    """Where Telegram posts updates: https, a public host, one of the ports it posts to."""
    if not value:
        return value
    parts = urlsplit(_public_url(value))
    if parts.scheme != "https":
        raise ValueError("must be an https:// address (Telegram only posts to HTTPS)")
    try:
        address = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        address = None
    if address is not None and not address.is_global:  # tdlib: "IP address ... is reserved"
        raise ValueError(f"must be a public address ({address} is private or reserved, and "
                         "Telegram does not post to it)")
    if (parts.port or 443) not in WEBHOOK_PORTS:
        raise ValueError("must use port 443, 80, 88 or 8443 (the only ports Telegram posts to); "
                         "let your reverse proxy forward to BOT_WEB_PORT")
    return value


def _webhook_secret(value: SecretStr | None) -> SecretStr | None:
    """1-256 characters of A-Z a-z 0-9 _ - (Bot API: setWebhook secret_token)."""
    if value is not None and not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
        raise ValueError("must be 1 to 256 characters of A-Z, a-z, 0-9, _ and - "
                         "(what Telegram allows in a webhook's secret token)")
    return value


def _database_url(value: SecretStr | None) -> SecretStr | None:
    """A PostgreSQL address (`postgresql://user:password@host:5432/db`); the password in it is
    never shown in an error."""
    if value is None:
        return None
    parts = urlsplit(value.get_secret_value().strip())
    if parts.scheme not in ("postgresql", "postgres") or not (parts.hostname or parts.query):
        raise ValueError("must be a postgresql://user:password@host:5432/database address "
                         "(leave it empty for SQLite in BOT_DATA_DIR)")
    return value


HttpUrl = Annotated[str, Check(_http_url)]
PublicUrl = Annotated[str, Check(_public_url)]
OptionalHttpUrl = Annotated[str, Check(_optional_http_url)]
OptionalPublicUrl = Annotated[str, Check(_optional_public_url)]
WebhookUrl = Annotated[str, Check(_webhook_url)]


def _host(value: str) -> str:
    """An IP address or a host name the server can listen on."""
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    numeric = all(label.isdigit() for label in labels)
    if numeric or len(value) > 253 or not all(_HOST_LABEL.fullmatch(x) for x in labels):
        raise ValueError("must be an IP address or a host name, such as 127.0.0.1 or 0.0.0.0")
    return value


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number from 1 to 65535 (or 0 for any free port)")
    return value


def _folder(value: Path) -> Path:
    """A folder the bot reads (dialogs, templates): it must exist."""
    if not value.exists():
        raise ValueError(f"folder {value} does not exist")
    if not value.is_dir():
        raise ValueError(f"{value} is a file, not a folder")
    return value


def _writable_folder(value: Path) -> Path:
    """The data folder: an existing folder this user can write, or a path where one can be
    made (the commands that use it create it first, and say so plainly when they cannot)."""
    if value.exists():
        if not value.is_dir():
            raise ValueError(f"{value} is a file, not a folder")
        if not os.access(value, os.W_OK | os.X_OK):
            raise ValueError(f"{value} is not writable by this user")
        return value
    existing = value
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{value} cannot be created: {existing} is a file, not a folder")
    return value


_QUIET_HOURS = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


def _timezone(value: str) -> str:
    """An IANA time zone name (`Europe/London`, `America/New_York`, `UTC`)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value[:_SHOWN_INPUT]!r} is not a time zone name such as "
                         "America/New_York or Europe/London") from None
    return value


def _quiet_hours(value: str) -> str:
    """`HH:MM-HH:MM` (24-hour, may wrap past midnight), or empty for none."""
    if value and not _QUIET_HOURS.fullmatch(value):
        raise ValueError("must be HH:MM-HH:MM in 24-hour time, such as 20:00-09:00 "
                         "(or empty for no quiet hours)")
    if value and value[:5] == value[6:]:
        raise ValueError("must start and end at different times")
    return value


@dataclass(frozen=True, kw_only=True)
class Followups:
    """When the follow-ups people ask for may arrive (the kinds and delays are in each flow)."""

    # The person's time zone when the channel knows it; this one otherwise (the practice's).
    timezone: Annotated[str, Check(_timezone)] = "UTC"
    # Local time in which nothing is sent: a follow-up due then waits for the end of it.
    quiet_hours: Annotated[str, Check(_quiet_hours)] = "20:00-09:00"
    # How often each process looks for due follow-ups.
    poll_seconds: Annotated[float, between(0.01, 3600.0)] = 30.0

    def quiet_window(self) -> tuple[int, int] | None:
        """(start, end) in minutes after midnight, or None."""
        if not self.quiet_hours:
            return None
        start, end = self.quiet_hours.split("-")
        return _minutes(start), _minutes(end)


def _minutes(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, kw_only=True)
class Practice:
    """What the bot says about the practice and where it sends people."""

    name: str = "Get Your Fix Physical Therapy"
    clinician: str = "your physical therapist"
    youtube_url: PublicUrl = "https://www.youtube.com/@example.com-placeholder"
    podcast_name: str = "Highly Functional"
    podcast_url: PublicUrl = "https://podcasts.example.com/highly-functional"
    facebook_url: PublicUrl = "https://www.facebook.com/groups/example.com-placeholder"
    instagram_url: PublicUrl = "https://www.instagram.com/example.com-placeholder"
    booking_url: Annotated[str, Check(_booking_url)] = "https://calendly.example.com/your-practice/complimentary-call"
    booking_provider: Literal["calendly", "cal.com", "plain"] = "calendly"
    # What the booking page is prefilled with: "short" a non-clinical line (which flow, which
    # channel), "full" the screening summary (health details, sent to the booking provider),
    # "none" nothing.
    booking_prefill: Literal["none", "short", "full"] = "short"

    def placeholders(self) -> list[str]:
        """Names of the links that still point at placeholder addresses."""
        return [
            field
            for field in (
                "youtube_url",
                "podcast_url",
                "facebook_url",
                "instagram_url",
                "booking_url",
            )
            if PLACEHOLDER_HOST in getattr(self, field)
        ]


def _origins(value: object) -> tuple[str, ...]:
    """Web origins (`https://www.your-practice.com`), from a list or one comma- or
    space-separated string (an environment variable), each as scheme://host[:port]."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("must be a list of origins such as https://www.your-practice.com")
    origins = []
    for item in items:
        parts = urlsplit(_http_url(str(item).strip()))
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError(f"{item!r} must be an origin only: scheme://host[:port], no path")
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(dict.fromkeys(origins))


Origins = Annotated[tuple[str, ...], ReadAs(_origins)]


@dataclass(frozen=True, kw_only=True)
class WebChat:
    """The chat box on the practice's web pages (`/chat`, `/chat/embed.js`; docs/web.md)."""

    enabled: bool = True
    # The practice's sites that embed the chat box with its <script> tag: they may show it in
    # their pages (CSP frame-ancestors) and call its API (CORS). The bot's own origin always can.
    allowed_origins: Origins = ()
    # Messages one browser may send at once, and how many more it may send per minute after.
    session_burst: Annotated[int, between(1, 10_000)] = 30
    session_per_minute: Annotated[float, between(above=0, high=60_000)] = 60.0
    # The same for one IP address (many people may share one, behind a clinic's router).
    address_burst: Annotated[int, between(1, 100_000)] = 300
    address_per_minute: Annotated[float, between(above=0, high=600_000)] = 600.0
    # Behind a reverse proxy: take the address from the last X-Forwarded-For entry (the one
    # the proxy added). Never set it when people reach the bot directly: they could pick any.
    trust_forwarded_for: bool = False


@dataclass(frozen=True, kw_only=True)
class Settings:
    """All settings. `load_settings` makes them and checks every value (made directly, or
    changed with `dataclasses.replace`, nothing is checked). Environment variables use the BOT_
    prefix, nested with `__` (BOT_PRACTICE__NAME), and an empty one means "not set", so an env
    file with `BOT_X=` lines (such as `.env.example`) works as shipped."""

    data_dir: Annotated[Path, Check(_writable_folder)] = Path("data")
    # Empty: SQLite in data_dir. A postgresql:// address: PostgreSQL, for several replicas.
    database_url: Annotated[SecretStr | None, Check(_database_url)] = None
    # Seconds a process reserves a message it is sending; one killed mid-send leaves it to be
    # sent by another (or the next) process this long after. A send is given 80% of it.
    outbox_lease: Annotated[float, between(1.0, 600.0)] = 30.0
    dialogs_dir: Annotated[Path, Check(_folder)] = ROOT / "dialogs"
    templates_dir: Annotated[Path, Check(_folder)] = ROOT / "templates"
    default_flow: str = "knee"
    retention_days: Annotated[int, between(1)] = 365
    phone_region: str = "US"  # how phone numbers without a country code are read
    practice: Practice = field(default_factory=Practice)
    followups: Followups = field(default_factory=Followups)
    # Telegram (python -m bot telegram)
    telegram_token: SecretStr | None = None
    telegram_base_url: HttpUrl = "https://api.telegram.org/bot"
    telegram_base_file_url: HttpUrl = "https://api.telegram.org/file/bot"
    telegram_webhook_url: WebhookUrl = ""
    telegram_webhook_secret: Annotated[SecretStr | None, Check(_webhook_secret)] = None
    # How the bot talks to the Bot API: aiohttp (bot/channels/telegram/request.py, fast) or
    # httpx (python-telegram-bot's own). Both read a proxy from HTTPS_PROXY / ALL_PROXY.
    telegram_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    # Discord (python -m bot discord)
    discord_token: SecretStr | None = None
    discord_guild_id: int | None = None
    discord_api_url: OptionalHttpUrl = ""  # empty: discord.com; tests point it at a local fake
    # Staff notifications: private places where staff hear about leads and requests
    staff_telegram_chat_id: int | None = None
    staff_discord_channel_id: int | None = None
    # The bot's own web server: health check, Telegram webhooks, booking redirects
    web_host: Annotated[str, Check(_host)] = "127.0.0.1"
    web_port: Annotated[int, Check(_port)] = 8080
    public_url: OptionalPublicUrl = ""
    # Signs the link buttons' click tokens, so a click is counted once per person and link.
    # Unset: a random key per process (a click after a restart may be counted again).
    link_secret: SecretStr | None = None
    # The web chat (`/chat`, docs/web.md): on unless turned off (BOT_WEB_CHAT__ENABLED=false)
    web_chat: WebChat = field(default_factory=WebChat)
    # Signs the booking provider's webhooks (Calendly's signing key, Cal.com's webhook secret);
    # unset: the booking webhook routes refuse everything.
    booking_webhook_secret: SecretStr | None = None
    # The practice's dashboard (/admin, docs/dashboard.md): how long a sign-in lasts, and how
    # many failed sign-ins in a row lock an account (or an address) out, and for how long.
    admin_session_hours: Annotated[float, between(above=0, high=24 * 30)] = 12.0
    admin_max_failures: Annotated[int, between(1, 100)] = 5
    admin_max_failures_per_address: Annotated[int, between(1, 1000)] = 20
    admin_lockout_minutes: Annotated[float, between(above=0, high=24 * 60)] = 15.0

    @cached_property
    def database_path(self) -> Path:
        """The SQLite file inside the data folder (the store creates both, privately)."""
        return self.data_dir / DATABASE_FILE

    @cached_property
    def link_key(self) -> bytes:
        """The key that signs click tokens: `link_secret`, else random for this process."""
        if self.link_secret is not None:
            return self.link_secret.get_secret_value().encode()
        return secrets.token_bytes(32)


def flow_ids(directory: Path) -> set[str]:
    """The `id:` of every flow file in a folder, read cheaply (the flow loader checks the rest)."""
    ids = set()
    for path in directory.glob("*.yaml"):
        try:
            match = _FLOW_ID.search(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if match:
            ids.add(match.group(1))
    return ids


def settings_file() -> tuple[Path, bool]:
    """The settings file to read, and whether it was asked for (BOT_SETTINGS_FILE)."""
    named = os.environ.get(SETTINGS_FILE_VARIABLE, "")
    return (Path(named), True) if named else (DEFAULT_SETTINGS_FILE, False)


def read_settings_file() -> dict[str, Any]:
    """The settings file as a mapping; {} when there is none. Raises SettingsError."""
    path, asked = settings_file()
    where = f"{SETTINGS_FILE_VARIABLE} ({path})" if asked else f"settings file {path}"
    if not path.exists():
        if asked:
            raise SettingsError([f"{where}: the file does not exist"])
        return {}
    if path.is_dir():
        raise SettingsError([f"{where}: is a folder, not a settings file"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SettingsError([f"{where}: is not a text file (YAML expected)"]) from None
    except OSError as error:
        raise SettingsError([f"{where}: cannot be read: {error.strerror}"]) from None
    if "\x00" in text:
        raise SettingsError([f"{where}: is not a text file (YAML expected)"])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise SettingsError([f"{where}: is not valid YAML{line}: {problem}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise SettingsError([f"{where}: must be a mapping of setting: value, not {kind}"])
    return data


# -- reading settings -------------------------------------------------------------------------


def variable(location: tuple[str, ...]) -> str:
    """The environment variable of a setting: ("practice", "name") -> BOT_PRACTICE__NAME."""
    return ENV_PREFIX + "__".join(location).upper()


@dataclass(frozen=True)
class Problem:
    """A setting that cannot work: where it is, what is wrong, and the value given."""

    location: tuple[str, ...]
    message: str
    value: object = None
    show_value: bool = True

    def line(self) -> str:
        """One plain line: the setting (and its variable), what is wrong, the value briefly."""
        return f"{'.'.join(self.location)} ({variable(self.location)}): " \
               f"{self.message}{self._shown()}"

    def _shown(self) -> str:
        """The wrong value, unless it is a secret or the message already says it."""
        secret = any(part.endswith(("token", "secret", "database_url")) for part in self.location)
        if secret or not self.show_value or not isinstance(self.value, str | int | float):
            return ""
        text = str(self.value)
        if re.search(rf"(?<![\w.]){re.escape(text)}(?![\w.])", self.message):
            return ""
        return f" (got {text if len(text) <= _SHOWN_INPUT else text[:_SHOWN_INPUT] + '...'!r})"


TRUE_WORDS = frozenset({"1", "true", "yes", "on", "t", "y"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "f", "n"})


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("must be text")


def _whole_number(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            with contextlib.suppress(ValueError):
                return _whole_number(float(value))  # "3.0"
    raise ValueError("must be a whole number")


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value.strip())
    raise ValueError("must be a number")


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, str | int) else ""
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError("must be true or false")


def _path(value: object) -> Path:
    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise ValueError("must be a path")


def _secret(value: object) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(_text(value))


_SCALARS: dict[Any, Callable[[object], Any]] = {
    str: _text, int: _whole_number, float: _number, bool: _flag, Path: _path, SecretStr: _secret,
}


def _typed(value: object, kind: Any) -> Any:
    """`value` as a `kind` (one of the types settings use), or ValueError saying what is wanted."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):  # X | None
        (inner,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return None if value is None else _typed(value, inner)
    if origin is Literal:
        choices = typing.get_args(kind)
        if value in choices:
            return value
        *first, last = (repr(choice) for choice in choices)
        raise ValueError(f"must be {', '.join(first)} or {last}")
    if origin is tuple:
        if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise ValueError("must be a list of text values")
    return _SCALARS[kind](value)


@cache
def _fields(section: type) -> dict[str, tuple[Any, tuple[object, ...]]]:
    """A settings section's fields in order: name -> (type, its Check and ReadAs marks)."""
    hints = typing.get_type_hints(section, include_extras=True)
    found = {}
    for each in dataclasses.fields(section):
        hint = hints[each.name]
        marks: tuple[object, ...] = ()
        if typing.get_origin(hint) is Annotated:
            hint, *extra = typing.get_args(hint)
            marks = tuple(extra)
        found[each.name] = (hint, marks)
    return found


def _is_section(kind: Any) -> bool:
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def _build(section: type, given: Mapping[Any, Any], where: tuple[str, ...],
           problems: list[Problem]) -> Any:
    """A section from the values given for it, defaults for the rest; None, with `problems`
    added to, when any value cannot work (here or before)."""
    known = _fields(section)
    problems += [Problem((*where, str(name)), "is not a setting", show_value=False)
                 for name in given if name not in known]
    values = {}
    for name, (kind, marks) in known.items():
        if name in given:
            value = _field_value(kind, marks, given[name], (*where, name), problems)
            if value is not _WRONG:
                values[name] = value
    return None if problems else section(**values)


_WRONG = object()


def _field_value(kind: Any, marks: tuple[object, ...], given: object,
                 location: tuple[str, ...], problems: list[Problem]) -> Any:
    if _is_section(kind):
        if isinstance(given, kind):
            return given
        if not isinstance(given, Mapping):
            problems.append(Problem(location, "must be a group of settings (in the settings "
                                    f"file; as variables: {variable(location)}__<NAME>)",
                                    show_value=False))
            return _WRONG
        built = _build(kind, given, location, problems)
        return _WRONG if built is None else built
    try:
        value = given
        for mark in marks:
            if isinstance(mark, ReadAs):
                value = mark.read(value)
        value = _typed(value, kind)
        for mark in marks:
            if isinstance(mark, Check):
                value = mark.rule(value)
    except ValueError as error:
        problems.append(Problem(location, str(error), given))
        return _WRONG
    return value


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """BOT_NAME and BOT_SECTION__NAME variables as nested values; names in any case, empty
    ones left out, other programs' BOT_ variables ignored. A section may also be given whole,
    as JSON (BOT_PRACTICE='{"name": "..."}')."""
    values: dict[str, Any] = {}
    top = _fields(Settings)
    for variable, value in environ.items():
        name = variable.upper()
        if not name.startswith(ENV_PREFIX) or not value:
            continue
        path = name.removeprefix(ENV_PREFIX).lower().split("__")
        if path[0] not in top:  # BOT_SETTINGS_FILE, or another program's
            continue
        if len(path) == 1 and _is_section(top[path[0]][0]):
            with contextlib.suppress(ValueError):
                value = jsontext.loads(value)
        _merge(values, _nested(path, value))
    return values


def _nested(path: list[str], value: object) -> dict[str, Any]:
    for name in reversed(path):
        value = {name: value}
    return value  # type: ignore[return-value]


def _merge(into: dict[Any, Any], more: Mapping[Any, Any]) -> dict[Any, Any]:
    """`more` laid over `into`, section by section."""
    for name, value in more.items():
        if isinstance(value, Mapping) and isinstance(into.get(name), Mapping):
            into[name] = _merge(dict(into[name]), value)
        else:
            into[name] = value
    return into


def _default_flow_problem(settings: Settings) -> Problem | None:
    flows = flow_ids(settings.dialogs_dir)
    if settings.default_flow in flows:
        return None
    there = ", ".join(sorted(flows)) or "none"
    return Problem(("default_flow",), f"no flow {settings.default_flow!r} in "
                   f"{settings.dialogs_dir} (flows there: {there})", show_value=False)


def load_settings(**overrides: object) -> Settings:
    """Read settings: the defaults, then the settings file, then the environment, then
    `overrides` (nested as in the file).

    Raises SettingsError, one line per problem, when they cannot work.
    """
    given = _merge(_merge(read_settings_file(), _from_environment(os.environ)), overrides)
    problems: list[Problem] = []
    settings = _build(Settings, given, (), problems)
    if settings is not None and (problem := _default_flow_problem(settings)):
        problems.append(problem)
    if problems:
        raise SettingsError([problem.line() for problem in problems])
    return settings
