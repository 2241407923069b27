"""Settings: embedded defaults, an optional YAML settings file, then BOT_* environment variables.

Everything that belongs to the practice lives here, so another practice runs the bot by editing
`settings.yaml` (or the environment), never code. Settings that cannot work fail when they are
read, each with one plain line naming the setting and what is wrong (`SettingsError`).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

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


HttpUrl = Annotated[str, AfterValidator(_http_url)]
PublicUrl = Annotated[str, AfterValidator(_public_url)]
OptionalHttpUrl = Annotated[str, AfterValidator(_optional_http_url)]
OptionalPublicUrl = Annotated[str, AfterValidator(_optional_public_url)]
WebhookUrl = Annotated[str, AfterValidator(_webhook_url)]


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


class Followups(BaseSettings):
    """When the follow-ups people ask for may arrive (the kinds and delays are in each flow)."""

    model_config = SettingsConfigDict(extra="forbid")

    # The person's time zone when the channel knows it; this one otherwise (the practice's).
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    # Local time in which nothing is sent: a follow-up due then waits for the end of it.
    quiet_hours: Annotated[str, AfterValidator(_quiet_hours)] = "20:00-09:00"
    # How often each process looks for due follow-ups.
    poll_seconds: float = Field(default=30.0, ge=0.01, le=3600.0)

    def quiet_window(self) -> tuple[int, int] | None:
        """(start, end) in minutes after midnight, or None."""
        if not self.quiet_hours:
            return None
        start, end = self.quiet_hours.split("-")
        return _minutes(start), _minutes(end)


def _minutes(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 60 + int(minutes)


class Practice(BaseSettings):
    """What the bot says about the practice and where it sends people."""

    model_config = SettingsConfigDict(extra="forbid")

    name: str = "Get Your Fix Physical Therapy"
    clinician: str = "your physical therapist"
    youtube_url: PublicUrl = "https://www.youtube.com/@example.com-placeholder"
    podcast_name: str = "Highly Functional"
    podcast_url: PublicUrl = "https://podcasts.example.com/highly-functional"
    facebook_url: PublicUrl = "https://www.facebook.com/groups/example.com-placeholder"
    instagram_url: PublicUrl = "https://www.instagram.com/example.com-placeholder"
    booking_url: Annotated[str, AfterValidator(_booking_url)] = "https://calendly.example.com/your-practice/complimentary-call"
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


Origins = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_origins)]


class WebChat(BaseSettings):
    """The chat box on the practice's web pages (`/chat`, `/chat/embed.js`; docs/web.md)."""

    model_config = SettingsConfigDict(extra="forbid")

    enabled: bool = True
    # The practice's sites that embed the chat box with its <script> tag: they may show it in
    # their pages (CSP frame-ancestors) and call its API (CORS). The bot's own origin always can.
    allowed_origins: Origins = ()
    # Messages one browser may send at once, and how many more it may send per minute after.
    session_burst: int = Field(default=30, ge=1, le=10_000)
    session_per_minute: float = Field(default=60.0, gt=0, le=60_000)
    # The same for one IP address (many people may share one, behind a clinic's router).
    address_burst: int = Field(default=300, ge=1, le=100_000)
    address_per_minute: float = Field(default=600.0, gt=0, le=600_000)
    # Behind a reverse proxy: take the address from the last X-Forwarded-For entry (the one
    # the proxy added). Never set it when people reach the bot directly: they could pick any.
    trust_forwarded_for: bool = False


class Settings(BaseSettings):
    """All settings; environment variables use the BOT_ prefix (nested with `__`).

    An empty environment variable means "not set", so an env file with `BOT_X=` lines (such as
    `.env.example`) works as shipped.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", env_file=None,
        env_ignore_empty=True,
    )

    data_dir: Annotated[Path, AfterValidator(_writable_folder)] = Path("data")
    # Empty: SQLite in data_dir. A postgresql:// address: PostgreSQL, for several replicas.
    database_url: Annotated[SecretStr | None, AfterValidator(_database_url)] = None
    # Seconds a process reserves a message it is sending; one killed mid-send leaves it to be
    # sent by another (or the next) process this long after. A send is given 80% of it.
    outbox_lease: float = Field(default=30.0, ge=1.0, le=600.0)
    dialogs_dir: Annotated[Path, AfterValidator(_folder)] = ROOT / "dialogs"
    templates_dir: Annotated[Path, AfterValidator(_folder)] = ROOT / "templates"
    default_flow: str = "knee"
    retention_days: int = Field(default=365, ge=1)
    phone_region: str = "US"  # how phone numbers without a country code are read
    practice: Practice = Field(default_factory=Practice)
    followups: Followups = Field(default_factory=Followups)
    # Telegram (python -m bot telegram)
    telegram_token: SecretStr | None = None
    telegram_base_url: HttpUrl = "https://api.telegram.org/bot"
    telegram_base_file_url: HttpUrl = "https://api.telegram.org/file/bot"
    telegram_webhook_url: WebhookUrl = ""
    telegram_webhook_secret: Annotated[SecretStr | None, AfterValidator(_webhook_secret)] = None
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
    web_host: Annotated[str, AfterValidator(_host)] = "127.0.0.1"
    web_port: Annotated[int, AfterValidator(_port)] = 8080
    public_url: OptionalPublicUrl = ""
    # Signs the link buttons' click tokens, so a click is counted once per person and link.
    # Unset: a random key per process (a click after a restart may be counted again).
    link_secret: SecretStr | None = None
    # The web chat (`/chat`, docs/web.md): on unless turned off (BOT_WEB_CHAT__ENABLED=false)
    web_chat: WebChat = Field(default_factory=WebChat)
    # Signs the booking provider's webhooks (Calendly's signing key, Cal.com's webhook secret);
    # unset: the booking webhook routes refuse everything.
    booking_webhook_secret: SecretStr | None = None
    # The practice's dashboard (/admin, docs/dashboard.md): how long a sign-in lasts, and how
    # many failed sign-ins in a row lock an account (or an address) out, and for how long.
    admin_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    admin_max_failures: int = Field(default=5, ge=1, le=100)
    admin_max_failures_per_address: int = Field(default=20, ge=1, le=1000)
    admin_lockout_minutes: float = Field(default=15.0, gt=0, le=24 * 60)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_source = InitSettingsSource(settings_cls, read_settings_file())
        return (init_settings, env_settings, file_source)

    @model_validator(mode="after")
    def _default_flow_exists(self) -> Settings:
        flows = flow_ids(self.dialogs_dir)
        if self.default_flow not in flows:
            there = ", ".join(sorted(flows)) or "none"
            raise ValueError(f"default_flow: no flow {self.default_flow!r} in "
                             f"{self.dialogs_dir} (flows there: {there})")
        return self

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


def describe_errors(error: ValidationError) -> list[str]:
    """One plain line per problem: the setting (and its variable), what is wrong, the value."""
    lines = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not location and ": " in message:  # a whole-model check names its setting itself
            location, message = [message.split(": ", 1)[0]], message.split(": ", 1)[1]
        name = ".".join(location) or "settings"
        variable = ENV_PREFIX + "__".join(location).upper()
        if problem["type"] == "extra_forbidden":
            message = "is not a setting"
        lines.append(f"{name} ({variable}): {message}{_shown(problem, message)}")
    return lines


def _shown(problem: Any, message: str) -> str:
    """The wrong value, briefly, unless it is a secret or the message already says it."""
    value = problem.get("input")
    secret = any(str(part).endswith(("token", "secret", "database_url"))
                 for part in problem["loc"])
    if secret or problem["type"] in ("missing", "extra_forbidden"):
        return ""
    if not isinstance(value, str | int | float) or str(value) in message:
        return ""
    text = str(value)
    return f" (got {text if len(text) <= _SHOWN_INPUT else text[:_SHOWN_INPUT] + '...'!r})"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and the optional settings file.

    Raises SettingsError, one line per problem, when they cannot work.
    """
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_errors(error)) from None
