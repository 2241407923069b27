"""The types and rules a setting's value must pass: `Check` and `ReadAs` marks, secrets, and
the addresses, folders, ports and times settings hold."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
SHOWN_INPUT = 60  # characters of a wrong value repeated in the error line


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


# Words the shipped examples and habit put where a secret belongs (deploy/k8s/secret.yaml
# ships `replace-me`): a secret containing one is a placeholder anyone can guess.
PLACEHOLDER_WORDS = ("replaceme", "changeme", "placeholder", "yoursecret", "yourtoken",
                     "secrethere", "tokenhere", "example", "xxxxxx", "todo", "fixme")
SECRET_MIN_LENGTH = 16  # characters a secret we sign or check with must have at least
_MAKE_ONE = 'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


def _placeholder(text: str) -> bool:
    """Whether a secret holds a word that marks a placeholder."""
    plain = re.sub(r"[^a-z0-9]", "", text.lower())
    return any(word in plain for word in PLACEHOLDER_WORDS)


def _not_placeholder(value: SecretStr | None) -> SecretStr | None:
    """A token from a platform: anything but a placeholder."""
    if value is not None and _placeholder(value.get_secret_value()):
        raise ValueError("is still a placeholder: set the real value")
    return value


def _strong_secret(value: SecretStr | None) -> SecretStr | None:
    """A secret the bot signs or checks with: no placeholder, at least 16 characters."""
    if value is None:
        return None
    text = value.get_secret_value()
    if _placeholder(text):
        raise ValueError(f"is still a placeholder: {_MAKE_ONE}")
    if len(text) < SECRET_MIN_LENGTH:
        raise ValueError(f"must be at least {SECRET_MIN_LENGTH} characters (anyone could guess "
                         f"a shorter one): {_MAKE_ONE}")
    if len(set(text)) < 5:  # "aaaa...": long enough, too plain to be secret
        raise ValueError(f"is still a placeholder: {_MAKE_ONE}")
    return value


def _webhook_secret(value: SecretStr | None) -> SecretStr | None:
    """16-256 characters of A-Z a-z 0-9 _ - (Bot API: setWebhook secret_token), not a
    placeholder: whoever knows it can post updates as anyone."""
    if value is not None and not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
        raise ValueError("must be 16 to 256 characters of A-Z, a-z, 0-9, _ and - "
                         "(what Telegram allows in a webhook's secret token)")
    return _strong_secret(value)


def _database_url(value: SecretStr | None) -> SecretStr | None:
    """A PostgreSQL address (`postgresql://user:password@host:5432/db`); the password in it is
    never shown in an error."""
    if value is None:
        return None
    parts = urlsplit(value.get_secret_value().strip())
    if parts.scheme not in ("postgresql", "postgres") or not (parts.hostname or parts.query):
        raise ValueError("must be a postgresql://user:password@host:5432/database address "
                         "(leave it empty for SQLite in BOT_DATA_DIR)")
    if parts.password is not None and _placeholder(parts.password):
        raise ValueError("has a placeholder password: set the real one")
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
        raise ValueError(f"{value[:SHOWN_INPUT]!r} is not a time zone name such as "
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

_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+")


def _email_address(value: str) -> str:
    """One email address (`front-desk@your-practice.com`), or empty."""
    if value and not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address such as front-desk@your-practice.com")
    return value


def _email_addresses(value: object) -> tuple[str, ...]:
    """Email addresses from a list or one comma- or space-separated string."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("must be a list of email addresses")
    return tuple(dict.fromkeys(_email_address(str(item).strip()) for item in items))


EmailAddress = Annotated[str, Check(_email_address)]
EmailAddresses = Annotated[tuple[str, ...], ReadAs(_email_addresses)]


_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
BRAND_CONTRAST = 4.5  # WCAG AA for text: the brand colour on white, and white on it


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _brand_colour(value: str) -> str:
    """A #rrggbb colour dark enough for white text on it (and for it as text on white)."""
    if not _HEX_COLOUR.fullmatch(value):
        raise ValueError("must be a colour written #rrggbb, e.g. #0b4f8a")
    contrast = 1.05 / (_luminance(value) + 0.05)
    if contrast < BRAND_CONTRAST:
        raise ValueError(f"must be darker: white on it has contrast {contrast:.1f}:1, "
                         f"at least {BRAND_CONTRAST}:1 is needed to be readable")
    return value.lower()


LOGO_TYPES = (".svg", ".png", ".webp", ".jpg", ".jpeg")
LOGO_MAX_BYTES = 200_000


def _logo_file(value: Path | None) -> Path | None:
    """A small image file the bot serves itself (no request leaves for another site)."""
    if value is None or not str(value):
        return None
    if value.suffix.lower() not in LOGO_TYPES:
        raise ValueError(f"must be an image file ({', '.join(LOGO_TYPES)})")
    if not value.is_file():
        raise ValueError(f"no such file: {value}")
    if value.stat().st_size > LOGO_MAX_BYTES:
        raise ValueError(f"must be at most {LOGO_MAX_BYTES // 1000} kB (it is shown 40 px high)")
    return value


_EMERGENCY_NUMBER = re.compile(r"[0-9]{2,6}")


def _emergency_number(value: str) -> str:
    if value and not _EMERGENCY_NUMBER.fullmatch(value):
        raise ValueError("must be the number to dial, 2 to 6 digits (911, 999, 112)")
    return value


BrandColour = Annotated[str, Check(_brand_colour)]
LogoFile = Annotated[Path | None, Check(_logo_file)]
EmergencyNumber = Annotated[str, Check(_emergency_number)]


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _log_level(value: str) -> str:
    """A logging level's name, in either case (BOT_LOG_LEVEL=debug), or empty for the
    command's own (INFO for the servers, WARNING for the rest)."""
    if value and value.upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, or empty")
    return value.upper()


LogLevel = Annotated[str, Check(_log_level)]
# The other checked kinds of value the settings' fields are (bot/settings/sections.py).
TimeZone = Annotated[str, Check(_timezone)]
QuietHours = Annotated[str, Check(_quiet_hours)]
BookingUrl = Annotated[str, Check(_booking_url)]
Folder = Annotated[Path, Check(_folder)]
WritableFolder = Annotated[Path, Check(_writable_folder)]
Host = Annotated[str, Check(_host)]
Port = Annotated[int, Check(_port)]
DatabaseUrl = Annotated[SecretStr | None, Check(_database_url)]
WebhookSecret = Annotated[SecretStr | None, Check(_webhook_secret)]
StrongSecret = Annotated[SecretStr | None, Check(_strong_secret)]
PlatformToken = Annotated[SecretStr | None, Check(_not_placeholder)]
