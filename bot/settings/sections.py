"""Every setting, a typed field with its default, in the sections of the settings file."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from bot.settings.rules import (
    BookingUrl,
    BrandColour,
    Check,
    DatabaseUrl,
    EmailAddress,
    EmailAddresses,
    EmergencyNumber,
    Folder,
    Host,
    HttpUrl,
    LogLevel,
    LogoFile,
    OptionalHttpUrl,
    OptionalPublicUrl,
    Origins,
    PlatformToken,
    Port,
    PublicUrl,
    QuietHours,
    SecretStr,
    StrongSecret,
    TimeZone,
    WebhookSecret,
    WebhookUrl,
    WritableFolder,
    between,
)

PLACEHOLDER_HOST = "example.com"
ROOT = Path(__file__).resolve().parent.parent.parent
DATABASE_FILE = "bot.sqlite3"


@dataclass(frozen=True, kw_only=True)
class Followups:
    """When the follow-ups people ask for may arrive (the kinds and delays are in each flow)."""

    # The person's time zone when the channel knows it; this one otherwise (the practice's).
    timezone: TimeZone = "UTC"
    # Local time in which nothing is sent: a follow-up due then waits for the end of it.
    quiet_hours: QuietHours = "20:00-09:00"
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
    booking_url: BookingUrl = "https://calendly.example.com/your-practice/complimentary-call"
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

def _launcher_label(value: str) -> str:
    if not value.strip() or len(value) > 40:
        raise ValueError("must be 1 to 40 characters (it is a button's words)")
    return value.strip()


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
    # New conversations (the first answer of a new browser session; the opening question is
    # kept nowhere) one address may start at once and per minute after, and all together.
    new_per_address_burst: Annotated[int, between(1, 10_000)] = 20
    new_per_address_per_minute: Annotated[float, between(above=0, high=60_000)] = 10.0
    new_per_minute: Annotated[float, between(above=0, high=600_000)] = 300.0
    # Behind a reverse proxy: take the address from the last X-Forwarded-For entry (the one
    # the proxy added). Never set it when people reach the bot directly: they could pick any.
    trust_forwarded_for: bool = False
    # How the chat box looks on the practice's pages: its colour (buttons, the launcher, the
    # person's messages: dark enough for white text), the logo in its header (a small image
    # file the bot serves itself; the chat's icon when not set), and the launcher's words and
    # corner (a page's `data-label` wins).
    brand_color: BrandColour = "#0b4f8a"
    logo_file: LogoFile = None
    launcher_label: Annotated[str, Check(_launcher_label)] = "Chat with us"
    launcher_position: Literal["right", "left"] = "right"
    # The number urgent advice offers to call; empty: the one of the practice's country
    # (`phone_region`; 911, 999, 112, ...).
    emergency_number: EmergencyNumber = ""


@dataclass(frozen=True, kw_only=True)
class EmailAlerts:
    """Alerts by email (SMTP): set `host`, `sender` and `to` to turn them on."""

    host: str = ""  # the SMTP server; empty: no email alerts
    port: Port = 587
    # "starttls": a plain connection upgraded to TLS (port 587); "tls": TLS from the start
    # (port 465). Never unencrypted: an alert names a person and how to reach them.
    security: Literal["starttls", "tls"] = "starttls"
    username: str = ""  # empty: the server takes mail without signing in
    password: SecretStr | None = None
    sender: EmailAddress = ""  # the From address
    to: EmailAddresses = ()  # who gets them, e.g. the front desk
    # A certificate file that signs the server's certificate, for a server with a private
    # certificate authority; empty: the system's trusted ones.
    ca_file: Path | None = None


@dataclass(frozen=True, kw_only=True)
class WebhookAlerts:
    """Alerts as signed JSON posted to another system (a CRM, Zapier, Make, n8n)."""

    url: OptionalHttpUrl = ""  # empty: no webhook alerts
    # Signs each post (HMAC-SHA256 over the timestamp and the body; docs/alerts.md).
    secret: StrongSecret = None


@dataclass(frozen=True, kw_only=True)
class Alerts:
    """Where the practice hears about leads, "talk to a person" requests, and calls booked,
    moved or cancelled, beside (or instead of) a Telegram or Discord staff room."""

    email: EmailAlerts = field(default_factory=EmailAlerts)
    webhook: WebhookAlerts = field(default_factory=WebhookAlerts)
    # Off: an alert says who, how to reach them and where to read more (the dashboard), never
    # what they answered. On: it also carries the screening's result (health details).
    health_details: bool = False

    def problems(self) -> list[tuple[tuple[str, ...], str]]:
        """Settings that are set but cannot work together: (where, what is wrong)."""
        found = []
        email, webhook = self.email, self.webhook
        if email.host and not email.sender:
            found.append((("alerts", "email", "sender"), "must be set when alerts.email.host is"))
        if email.host and not email.to:
            found.append((("alerts", "email", "to"), "must be set when alerts.email.host is"))
        if webhook.url and webhook.secret is None:
            found.append((("alerts", "webhook", "secret"),
                          "must be set when alerts.webhook.url is: every post is signed"))
        return found


@dataclass(frozen=True, kw_only=True)
class Settings:
    """All settings. `load_settings` makes them and checks every value (made directly, or
    changed with `dataclasses.replace`, nothing is checked). Environment variables use the BOT_
    prefix, nested with `__` (BOT_PRACTICE__NAME), and an empty one means "not set", so an env
    file with `BOT_X=` lines (such as `.env.example`) works as shipped."""

    data_dir: WritableFolder = Path("data")
    # Empty: SQLite in data_dir. A postgresql:// address: PostgreSQL, for several replicas.
    database_url: DatabaseUrl = None
    # Seconds a process reserves a message it is sending; one killed mid-send leaves it to be
    # sent by another (or the next) process this long after. A send is given 80% of it.
    outbox_lease: Annotated[float, between(1.0, 600.0)] = 30.0
    dialogs_dir: Folder = ROOT / "dialogs"
    templates_dir: Folder = ROOT / "templates"
    default_flow: str = "knee"
    retention_days: Annotated[int, between(1)] = 365
    # Hours a conversation that never got an answer is kept (someone who opened the chat or
    # sent /start and left): anyone can open those for free, so they go long before a year.
    unanswered_hours: Annotated[float, between(above=0, high=24 * 365)] = 24.0
    phone_region: str = "US"  # how phone numbers without a country code are read
    practice: Practice = field(default_factory=Practice)
    followups: Followups = field(default_factory=Followups)
    # Telegram (python -m bot telegram)
    telegram_token: PlatformToken = None
    telegram_base_url: HttpUrl = "https://api.telegram.org/bot"
    telegram_base_file_url: HttpUrl = "https://api.telegram.org/file/bot"
    telegram_webhook_url: WebhookUrl = ""
    telegram_webhook_secret: WebhookSecret = None
    # How the bot talks to the Bot API: aiohttp (bot/channels/telegram/request.py, fast) or
    # httpx (python-telegram-bot's own). Both read a proxy from HTTPS_PROXY / ALL_PROXY.
    telegram_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    # Discord (python -m bot discord)
    discord_token: PlatformToken = None
    discord_guild_id: int | None = None
    discord_api_url: OptionalHttpUrl = ""  # empty: discord.com; tests point it at a local fake
    # Staff notifications: private places where staff hear about leads and requests
    staff_telegram_chat_id: int | None = None
    staff_discord_channel_id: int | None = None
    # Alerts by email and by a signed webhook (docs/alerts.md)
    alerts: Alerts = field(default_factory=Alerts)
    # The bot's own web server: health check, Telegram webhooks, booking redirects
    web_host: Host = "127.0.0.1"
    web_port: Port = 8080
    public_url: OptionalPublicUrl = ""
    # Signs the link buttons' click tokens, so a click is counted once per person and link.
    # Unset: a random key per process (a click after a restart may be counted again).
    link_secret: StrongSecret = None
    # The web chat (`/chat`, docs/web.md): on unless turned off (BOT_WEB_CHAT__ENABLED=false)
    web_chat: WebChat = field(default_factory=WebChat)
    # Signs the booking provider's webhooks (Calendly's signing key, Cal.com's webhook secret);
    # unset: the booking webhook routes refuse everything.
    booking_webhook_secret: StrongSecret = None
    # The practice's dashboard (/admin, docs/dashboard.md): how long a sign-in lasts, and how
    # many failed sign-ins in a row lock an account (or an address) out, and for how long.
    admin_session_hours: Annotated[float, between(above=0, high=24 * 30)] = 12.0
    admin_max_failures: Annotated[int, between(1, 100)] = 5
    admin_max_failures_per_address: Annotated[int, between(1, 1000)] = 20
    admin_lockout_minutes: Annotated[float, between(above=0, high=24 * 60)] = 15.0
    # The Prometheus series at /metrics (docs/deploy.md#metrics), for a scraper that sends it
    # as `Authorization: Bearer <token>`; unset: /metrics is not served.
    metrics_token: StrongSecret = None
    # What the bot logs: DEBUG, INFO (start-up, channels, where it listens), WARNING or ERROR;
    # empty: INFO for the servers (run, web, telegram, discord), WARNING for the commands one
    # runs by hand (chat, say, ...). As lines of text, or one JSON object a line.
    log_level: LogLevel = ""
    log_format: Literal["text", "json"] = "text"

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
