"""Settings: embedded defaults, an optional YAML settings file, then BOT_* environment variables.

Everything that belongs to the practice lives here, so another practice runs the bot by editing
`settings.yaml` (or the environment), never code.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

PLACEHOLDER_HOST = "example.com"
ROOT = Path(__file__).resolve().parent.parent


def _settings_file() -> Path:
    return Path(os.environ.get("BOT_SETTINGS_FILE", "settings.yaml"))


class Practice(BaseSettings):
    """What the bot says about the practice and where it sends people."""

    model_config = SettingsConfigDict(extra="forbid")

    name: str = "Get Your Fix Physical Therapy"
    clinician: str = "your physical therapist"
    youtube_url: str = "https://www.youtube.com/@example.com-placeholder"
    podcast_name: str = "Highly Functional"
    podcast_url: str = "https://podcasts.example.com/highly-functional"
    facebook_url: str = "https://www.facebook.com/groups/example.com-placeholder"
    instagram_url: str = "https://www.instagram.com/example.com-placeholder"
    booking_url: str = "https://calendly.example.com/your-practice/complimentary-call"
    booking_provider: Literal["calendly", "cal.com", "plain"] = "calendly"

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


class Settings(BaseSettings):
    """All settings; environment variables use the BOT_ prefix (nested with `__`)."""

    model_config = SettingsConfigDict(
        env_prefix="BOT_", env_nested_delimiter="__", extra="forbid", env_file=None
    )

    data_dir: Path = Path("data")
    dialogs_dir: Path = ROOT / "dialogs"
    templates_dir: Path = ROOT / "templates"
    default_flow: str = "knee"
    retention_days: int = Field(default=365, ge=1)
    phone_region: str = "US"  # how phone numbers without a country code are read
    practice: Practice = Field(default_factory=Practice)
    # Telegram (python -m bot telegram)
    telegram_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr | None = None
    # Discord (python -m bot discord)
    discord_token: SecretStr | None = None
    discord_guild_id: int | None = None
    discord_api_url: str = ""  # empty: discord.com; tests point it at a local fake
    # Staff notifications: private places where staff hear about leads and requests
    staff_telegram_chat_id: int | None = None
    staff_discord_channel_id: int | None = None
    # The bot's own web server: health check, Telegram webhooks, booking redirects
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    public_url: str = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=_settings_file())
        return (init_settings, env_settings, yaml_source)

    @cached_property
    def database_path(self) -> Path:
        """The SQLite file inside the data folder (created on first use)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / "bot.sqlite3"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and the optional settings file."""
    return Settings(**overrides)
