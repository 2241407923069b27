"""Settings: embedded defaults, an optional YAML settings file, then BOT_* environment variables.

Everything that belongs to the practice lives here, so another practice runs the bot by editing
`settings.yaml` (or the environment), never code. Settings that cannot work fail when they are
read, each with one plain line naming the setting and what is wrong (`SettingsError`).

Each setting is a typed field of a dataclass (`sections`); `Annotated` marks add what its type
does not say (`rules`): `Check` a rule its value must pass, `ReadAs` how a value given as one
string is read first. `loading` reads the file and the environment and checks every value. The
standard library does the rest: these few types need no validation library, and pydantic
with pydantic-settings added 9 MiB to every process, which starts at 59 MiB without them
(docs/telegram.md#benchmark).
"""

from bot.settings.loading import (
    DEFAULT_SETTINGS_FILE,
    ENV_PREFIX,
    SETTINGS_FILE_VARIABLE,
    Problem,
    SettingsError,
    flow_ids,
    load_settings,
    read_settings_file,
    settings_file,
    variable,
)
from bot.settings.rules import (
    BOOKING_URL_LIMIT,
    WEBHOOK_PORTS,
    Check,
    HttpUrl,
    Origins,
    PublicUrl,
    ReadAs,
    SecretStr,
    between,
)
from bot.settings.sections import (
    DATABASE_FILE,
    PLACEHOLDER_HOST,
    ROOT,
    Alerts,
    EmailAlerts,
    Followups,
    Practice,
    Settings,
    WebChat,
    WebhookAlerts,
)

__all__ = [
    "BOOKING_URL_LIMIT",
    "DATABASE_FILE",
    "DEFAULT_SETTINGS_FILE",
    "ENV_PREFIX",
    "PLACEHOLDER_HOST",
    "ROOT",
    "SETTINGS_FILE_VARIABLE",
    "WEBHOOK_PORTS",
    "Alerts",
    "Check",
    "EmailAlerts",
    "Followups",
    "HttpUrl",
    "Origins",
    "Practice",
    "Problem",
    "PublicUrl",
    "ReadAs",
    "SecretStr",
    "Settings",
    "SettingsError",
    "WebChat",
    "WebhookAlerts",
    "between",
    "flow_ids",
    "load_settings",
    "read_settings_file",
    "settings_file",
    "variable",
]
