"""Settings that cannot work fail clearly: one plain line naming the setting and what is wrong,
exit code 2, never a traceback; an empty variable means "not set"; `.env.example` works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values

from bot import cli
from bot.settings import ROOT, Practice, SecretStr, SettingsError, load_settings

PREFIX = "Settings are not valid: "


def check_fails(capsys: pytest.CaptureFixture[str]) -> str:
    """Run `python -m bot check` in-process; it must fail with exactly one plain line."""
    assert cli.main(["check"]) == 2
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    assert line.startswith(PREFIX) and "Traceback" not in err
    return line.removeprefix(PREFIX)


def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | bytes) -> Path:
    path = tmp_path / "settings.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    monkeypatch.setenv("BOT_SETTINGS_FILE", str(path))
    return path


@pytest.fixture(autouse=True)
def _data_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))


# -- the settings file ------------------------------------------------------------------------


def test_malformed_yaml_names_the_file_and_the_line(tmp_path, monkeypatch, capsys):
    path = settings_file(tmp_path, monkeypatch, "practice:\n  name: [unclosed\ndata_dir: x\n")
    line = check_fails(capsys)
    assert line.startswith(f"BOT_SETTINGS_FILE ({path}): is not valid YAML at line")


def test_a_yaml_list_is_not_a_settings_file(tmp_path, monkeypatch, capsys):
    settings_file(tmp_path, monkeypatch, "- data_dir: x\n- web_port: 1\n")
    assert "must be a mapping of setting: value, not a list" in check_fails(capsys)


def test_a_binary_file_is_not_a_settings_file(tmp_path, monkeypatch, capsys):
    settings_file(tmp_path, monkeypatch, bytes(range(256)) * 4)
    assert "is not a text file" in check_fails(capsys)


def test_a_settings_file_that_does_not_exist_is_an_error_not_ignored(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("BOT_SETTINGS_FILE", str(tmp_path / "setings.yaml"))
    assert check_fails(capsys) == f"BOT_SETTINGS_FILE ({tmp_path}/setings.yaml): the file " \
                                  "does not exist"


def test_a_folder_is_not_a_settings_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BOT_SETTINGS_FILE", str(tmp_path))
    assert "is a folder, not a settings file" in check_fails(capsys)


def test_an_unknown_setting_in_the_file_is_named(tmp_path, monkeypatch, capsys):
    settings_file(tmp_path, monkeypatch, "practice:\n  nme: Knees R Us\n")
    assert check_fails(capsys) == "practice.nme (BOT_PRACTICE__NME): is not a setting"


def test_a_javascript_booking_url_in_the_file_is_refused(tmp_path, monkeypatch, capsys):
    settings_file(tmp_path, monkeypatch, "practice:\n  booking_url: 'javascript:alert(1)'\n")
    line = check_fails(capsys)
    assert line.startswith("practice.booking_url (BOT_PRACTICE__BOOKING_URL): must be an "
                           "http:// or https:// address")


# -- one environment variable at a time -------------------------------------------------------

CASES = {
    "unknown default flow": ({"BOT_DEFAULT_FLOW": "nope"},
                             "default_flow (BOT_DEFAULT_FLOW): no flow 'nope'"),
    "port too high": ({"BOT_WEB_PORT": "99999"}, "web_port (BOT_WEB_PORT): must be a port"),
    "negative port": ({"BOT_WEB_PORT": "-1"}, "web_port (BOT_WEB_PORT): must be a port"),
    "port not a number": ({"BOT_WEB_PORT": "eighty"}, "web_port (BOT_WEB_PORT): "),
    "bad host": ({"BOT_WEB_HOST": "not a host!"}, "web_host (BOT_WEB_HOST): must be an IP"),
    "bad address": ({"BOT_WEB_HOST": "999.1.2.3"}, "web_host (BOT_WEB_HOST): must be an IP"),
    "booking url not a url": ({"BOT_PRACTICE__BOOKING_URL": "not a url"},
                              "practice.booking_url (BOT_PRACTICE__BOOKING_URL): must be an "
                              "http:// or https:// address (got 'not a url')"),
    "javascript booking url": ({"BOT_PRACTICE__BOOKING_URL": "javascript:alert(1)"},
                               "practice.booking_url (BOT_PRACTICE__BOOKING_URL): must be"),
    "public url with a space": ({"BOT_PUBLIC_URL": "foo bar"},
                                "public_url (BOT_PUBLIC_URL): must be an http"),
    "webhook not https": ({"BOT_TELEGRAM_WEBHOOK_URL": "http://bot.test/hook"},
                          "telegram_webhook_url (BOT_TELEGRAM_WEBHOOK_URL): must be an https"),
    # Telegram refuses link buttons to a host without a dot, so the bot's links would fail
    "public url on localhost": ({"BOT_PUBLIC_URL": "http://localhost:8080"},
                                "public_url (BOT_PUBLIC_URL): must be a public address whose "
                                "host has a dot ('localhost' has none"),
    "podcast link on a dotless host": ({"BOT_PRACTICE__PODCAST_URL": "https://podcast/ep1"},
                                       "practice.podcast_url (BOT_PRACTICE__PODCAST_URL): must "
                                       "be a public address whose host has a dot"),
    "webhook on a port Telegram never posts to": (
        {"BOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org:8080/telegram"},
        "telegram_webhook_url (BOT_TELEGRAM_WEBHOOK_URL): must use port 443, 80, 88 or 8443"),
    "booking address too long for a button": (
        {"BOT_PRACTICE__BOOKING_URL": "https://calendly.com/" + "p" * 380},
        "practice.booking_url (BOT_PRACTICE__BOOKING_URL): must be at most 400 characters"),
    "webhook on a private address": ({"BOT_TELEGRAM_WEBHOOK_URL": "https://10.0.0.7/telegram"},
                                     "telegram_webhook_url (BOT_TELEGRAM_WEBHOOK_URL): must be a "
                                     "public address (10.0.0.7 is private"),
    "webhook on localhost": ({"BOT_TELEGRAM_WEBHOOK_URL": "https://localhost/telegram"},
                             "telegram_webhook_url (BOT_TELEGRAM_WEBHOOK_URL): must be a public"),
    "webhook secret with a space": ({"BOT_TELEGRAM_WEBHOOK_SECRET": "two words"},
                                    "telegram_webhook_secret (BOT_TELEGRAM_WEBHOOK_SECRET): must "
                                    "be 16 to 256 characters of A-Z, a-z, 0-9, _ and -"),
    "webhook secret too long": ({"BOT_TELEGRAM_WEBHOOK_SECRET": "a" * 257},
                                "telegram_webhook_secret (BOT_TELEGRAM_WEBHOOK_SECRET): must be "
                                "16 to 256"),
    "database url not postgresql": ({"BOT_DATABASE_URL": "mysql://bot@db/bot"},
                                     "database_url (BOT_DATABASE_URL): must be a postgresql://"),
    "outbox lease too short": ({"BOT_OUTBOX_LEASE": "0.5"}, "outbox_lease (BOT_OUTBOX_LEASE): "),
    "dialogs folder missing": ({"BOT_DIALOGS_DIR": "{tmp}/no-dialogs"},
                               "dialogs_dir (BOT_DIALOGS_DIR): folder {tmp}/no-dialogs does "
                               "not exist"),
    "templates folder missing": ({"BOT_TEMPLATES_DIR": "{tmp}/no-templates"},
                                 "templates_dir (BOT_TEMPLATES_DIR): folder {tmp}/no-templates "
                                 "does not exist"),
    "data folder is a file": ({"BOT_DATA_DIR": "{tmp}/a-file"},
                              "data_dir (BOT_DATA_DIR): {tmp}/a-file is a file, not a folder"),
    "data folder under a file": ({"BOT_DATA_DIR": "{tmp}/a-file/data"},
                                 "data_dir (BOT_DATA_DIR): {tmp}/a-file/data cannot be created: "
                                 "{tmp}/a-file is a file"),
}


@pytest.mark.parametrize(("variables", "expected"), CASES.values(), ids=CASES.keys())
def test_each_wrong_setting_gives_one_plain_line(variables, expected, tmp_path, monkeypatch,
                                                 capsys):
    (tmp_path / "a-file").write_text("not a folder")
    for name, value in variables.items():
        monkeypatch.setenv(name, value.replace("{tmp}", str(tmp_path)))
    assert check_fails(capsys).startswith(expected.replace("{tmp}", str(tmp_path)))


@pytest.mark.parametrize("variables", [
    {"BOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org:8443/telegram"},
    {"BOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org:88/telegram"},
    {"BOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram"},
    {"BOT_TELEGRAM_WEBHOOK_URL": "https://8.8.8.8/telegram"},
    {"BOT_PRACTICE__BOOKING_URL": "https://calendly.com/" + "p" * 379},
    {"BOT_TELEGRAM_WEBHOOK_SECRET": ("Ab3-_xYz9" * 29)[:256]},
    {"BOT_TELEGRAM_WEBHOOK_SECRET": "A-z_0kQ7mW2pL9sR"},  # 16: the shortest taken
    {"BOT_PUBLIC_URL": "https://203.0.113.7"},
    {"BOT_OUTBOX_LEASE": "1"},
    {"BOT_DATABASE_URL": "postgresql://bot:pw@db.internal:5432/bot"},
], ids=str)
def test_settings_at_the_edge_of_what_platforms_allow_are_taken(variables, monkeypatch):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    load_settings()


def test_a_database_password_is_never_repeated_in_the_error(monkeypatch):
    monkeypatch.setenv("BOT_DATABASE_URL", "mysql://bot:hunter2@db/bot")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "hunter2" not in str(error.value)


def test_a_secret_is_never_repeated_in_the_error(monkeypatch):
    monkeypatch.setenv("BOT_TELEGRAM_TOKEN", "123:very-secret")
    monkeypatch.setenv("BOT_WEB_PORT", "99999")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "very-secret" not in str(error.value)


def test_an_unwritable_data_folder_is_named(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    os.chmod(folder, 0o555)
    if os.geteuid() == 0:  # root may write anywhere: play a user who may not
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **options: Path(path) != folder
                            and real_access(path, mode, **options))
    monkeypatch.setenv("BOT_DATA_DIR", str(folder))
    assert check_fails(capsys) == f"data_dir (BOT_DATA_DIR): {folder} is not writable by " \
                                  "this user"


def test_a_data_folder_that_cannot_be_made_is_named_before_anything_runs(monkeypatch,
                                                                          capsys):
    monkeypatch.setenv("BOT_DATA_DIR", "/proc/bot-data")  # not even root can make it
    assert cli.main(["stats"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{PREFIX}data_dir (BOT_DATA_DIR): cannot create /proc/bot-data: ")
    assert cli.main(["check"]) == 0  # check needs no data folder


@pytest.mark.process
def test_the_command_line_exits_2_without_a_traceback():
    env = {"PATH": "/usr/bin:/bin", "BOT_SETTINGS_FILE": os.devnull, "BOT_WEB_PORT": "99999",
           "BOT_PUBLIC_URL": "foo bar"}
    result = subprocess.run([sys.executable, "-m", "bot", "check"], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{PREFIX}web_port (BOT_WEB_PORT): must be a port number from 1 to 65535 (or 0 for any "
        "free port) (got '99999')",
        f"{PREFIX}public_url (BOT_PUBLIC_URL): must be an http:// or https:// address "
        "(got 'foo bar')",
    ]


# -- empty values and the shipped examples ----------------------------------------------------


def test_an_empty_variable_means_not_set(monkeypatch):
    for name in ("BOT_DISCORD_GUILD_ID", "BOT_STAFF_TELEGRAM_CHAT_ID",
                 "BOT_STAFF_DISCORD_CHANNEL_ID", "BOT_WEB_PORT", "BOT_PUBLIC_URL",
                 "BOT_TELEGRAM_TOKEN", "BOT_PRACTICE__NAME"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.discord_guild_id is None and settings.staff_telegram_chat_id is None
    assert settings.web_port == 8080 and settings.telegram_token is None
    assert settings.practice.name == "Get Your Fix Physical Therapy"


def test_the_shipped_env_example_works_as_it_is(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # its data folder is ./data
    monkeypatch.delenv("BOT_DATA_DIR")
    variables = dotenv_values(ROOT / ".env.example")
    assert "BOT_DISCORD_GUILD_ID" in variables  # shipped empty, as compose's env_file reads it
    for name, value in variables.items():
        monkeypatch.setenv(name, value or "")
    settings = load_settings()
    assert settings.practice.clinician == "Dr. Jane Doe, PT, DPT"
    assert settings.discord_guild_id is None and settings.data_dir == Path("data")
    assert cli.main(["check"]) == 0
    assert "errors" in capsys.readouterr().out


def test_the_shipped_settings_example_works_as_it_is(monkeypatch):
    monkeypatch.setenv("BOT_SETTINGS_FILE", str(ROOT / "settings.example.yaml"))
    settings = load_settings()
    assert settings.practice.booking_url.startswith("https://")


# -- how values are read: types, bounds, sources ----------------------------------------------


def problems_of(**variables: str) -> list[str]:
    """The error lines for these variables set (and no settings file), or [] when they work."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOT_SETTINGS_FILE", os.devnull)
        for name, value in variables.items():
            patch.setenv(name, value)
        try:
            load_settings()
        except SettingsError as error:
            return error.lines
    return []


@pytest.mark.parametrize(("name", "low", "high", "inclusive_low"), [
    ("BOT_OUTBOX_LEASE", 1.0, 600.0, True),
    ("BOT_FOLLOWUPS__POLL_SECONDS", 0.01, 3600.0, True),
    ("BOT_WEB_CHAT__SESSION_BURST", 1, 10_000, True),
    ("BOT_WEB_CHAT__SESSION_PER_MINUTE", 0, 60_000, False),
    ("BOT_WEB_CHAT__ADDRESS_BURST", 1, 100_000, True),
    ("BOT_WEB_CHAT__ADDRESS_PER_MINUTE", 0, 600_000, False),
    ("BOT_ADMIN_SESSION_HOURS", 0, 720, False),
    ("BOT_ADMIN_MAX_FAILURES", 1, 100, True),
    ("BOT_ADMIN_MAX_FAILURES_PER_ADDRESS", 1, 1000, True),
    ("BOT_ADMIN_LOCKOUT_MINUTES", 0, 1440, False),
    ("BOT_WEB_PORT", 0, 65535, True),
])
def test_each_bounded_setting_is_taken_at_its_bounds_and_refused_past_them(name, low, high,
                                                                          inclusive_low):
    step = 1 if isinstance(low, int) and isinstance(high, int) and inclusive_low else 0.001
    taken = [high, low + step, *([low] if inclusive_low else [])]
    refused = [high + step, low - step, *([] if inclusive_low else [low])]
    setting = name.removeprefix("BOT_").lower().replace("__", ".")
    for value in taken:
        assert problems_of(**{name: str(value)}) == [], value
    for value in refused:
        (line,) = problems_of(**{name: str(value)})
        assert line.startswith(f"{setting} ({name}): must be "), line
        assert f"(got '{value}')" in line or f" {value} " in line  # or the bound says it


def test_retention_has_a_floor_of_one_day_and_no_ceiling():
    assert problems_of(BOT_RETENTION_DAYS="1") == []
    assert problems_of(BOT_RETENTION_DAYS="36500") == []
    assert problems_of(BOT_RETENTION_DAYS="0") == [
        "retention_days (BOT_RETENTION_DAYS): must be at least 1 (got '0')"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_number_that_is_not_finite_is_refused(value):
    (line,) = problems_of(BOT_OUTBOX_LEASE=value)
    assert line == f"outbox_lease (BOT_OUTBOX_LEASE): must be from 1 to 600 (got '{value}')"


@pytest.mark.parametrize(("value", "expected"), [
    ("80", 80), (" 81 ", 81), ("8080.0", 8080), ("1_000", 1000)])
def test_whole_numbers_are_read_from_text(value, expected, monkeypatch):
    monkeypatch.setenv("BOT_SETTINGS_FILE", os.devnull)
    monkeypatch.setenv("BOT_WEB_PORT", value)
    assert load_settings().web_port == expected


@pytest.mark.parametrize("value", ["eighty", "80.5", "0x50", "true"])
def test_a_whole_number_setting_refuses_anything_else(value):
    assert problems_of(BOT_WEB_PORT=value) == [
        f"web_port (BOT_WEB_PORT): must be a whole number (got '{value}')"]


@pytest.mark.parametrize(("value", "expected"), [
    *((word, True) for word in ("true", "True", "YES", "on", "1", "y", "t")),
    *((word, False) for word in ("false", "False", "no", "OFF", "0", "n", "f")),
])
def test_true_or_false_is_read_from_the_usual_words(value, expected, monkeypatch):
    monkeypatch.setenv("BOT_SETTINGS_FILE", os.devnull)
    monkeypatch.setenv("BOT_WEB_CHAT__ENABLED", value)
    assert load_settings().web_chat.enabled is expected


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_a_true_or_false_setting_refuses_other_words(value):
    assert problems_of(BOT_WEB_CHAT__ENABLED=value) == [
        f"web_chat.enabled (BOT_WEB_CHAT__ENABLED): must be true or false (got '{value}')"]


def test_a_choice_names_the_choices():
    assert problems_of(BOT_PRACTICE__BOOKING_PROVIDER="acuity") == [
        "practice.booking_provider (BOT_PRACTICE__BOOKING_PROVIDER): must be 'calendly', "
        "'cal.com' or 'plain' (got 'acuity')"]


def test_every_problem_is_named_at_once_in_the_order_of_the_settings():
    assert problems_of(BOT_WEB_CHAT__SESSION_BURST="0", BOT_WEB_PORT="x",
                       BOT_PRACTICE__BOOKING_PROVIDER="acuity") == [
        "practice.booking_provider (BOT_PRACTICE__BOOKING_PROVIDER): must be 'calendly', "
        "'cal.com' or 'plain' (got 'acuity')",
        "web_port (BOT_WEB_PORT): must be a whole number (got 'x')",
        "web_chat.session_burst (BOT_WEB_CHAT__SESSION_BURST): must be from 1 to 10000 (got '0')",
    ]


def test_variable_names_are_read_in_any_case_and_other_bot_variables_are_left_alone(
        monkeypatch):
    monkeypatch.setenv("BOT_SETTINGS_FILE", os.devnull)
    monkeypatch.setenv("bot_web_port", "8181")
    monkeypatch.setenv("Bot_Practice__Name", "Knees R Us")
    monkeypatch.setenv("BOT_SOMETHING_ELSE", "another program's")
    settings = load_settings()
    assert settings.web_port == 8181 and settings.practice.name == "Knees R Us"


def test_an_unknown_name_inside_a_group_is_named():
    assert problems_of(BOT_FOLLOWUPS__QUIET_HOUR="20:00-08:00") == [
        "followups.quiet_hour (BOT_FOLLOWUPS__QUIET_HOUR): is not a setting"]


def test_a_group_may_be_given_whole_as_json(monkeypatch):
    monkeypatch.setenv("BOT_SETTINGS_FILE", os.devnull)
    monkeypatch.setenv("BOT_PRACTICE", '{"name": "Knees R Us", "clinician": "Dr. Lee"}')
    monkeypatch.setenv("BOT_PRACTICE__CLINICIAN", "Dr. Kim")  # one variable beats the whole
    practice = load_settings().practice
    assert (practice.name, practice.clinician) == ("Knees R Us", "Dr. Kim")


@pytest.mark.parametrize("value", ["Knees R Us", "[1, 2]", "5"])
def test_a_group_given_as_anything_but_settings_is_named(value):
    assert problems_of(BOT_PRACTICE=value) == [
        "practice (BOT_PRACTICE): must be a group of settings (in the settings file; as "
        "variables: BOT_PRACTICE__<NAME>)"]


def test_values_come_from_the_call_then_the_environment_then_the_file_then_the_defaults(
        tmp_path, monkeypatch):
    settings_file(tmp_path, monkeypatch, "web_port: 8001\npractice:\n  name: From the file\n"
                  "  clinician: File PT\n  podcast_name: File cast\n")
    monkeypatch.setenv("BOT_WEB_PORT", "8002")
    monkeypatch.setenv("BOT_PRACTICE__CLINICIAN", "Env PT")
    settings = load_settings(practice={"podcast_name": "Call cast"})
    assert settings.web_port == 8002
    assert (settings.practice.name, settings.practice.clinician,
            settings.practice.podcast_name) == ("From the file", "Env PT", "Call cast")
    assert settings.practice.booking_provider == "calendly"  # the default
    assert load_settings(web_port=8003).web_port == 8003


def test_the_file_s_types_are_taken_as_they_are(tmp_path, monkeypatch):
    settings_file(tmp_path, monkeypatch, "web_port: 8001.0\noutbox_lease: 45\n"
                  "web_chat:\n  enabled: false\n  trust_forwarded_for: 1\n"
                  "  allowed_origins: [https://a.example.org]\n")
    settings = load_settings()
    assert (settings.web_port, settings.outbox_lease) == (8001, 45.0)
    assert settings.web_chat.enabled is False and settings.web_chat.trust_forwarded_for is True
    assert settings.web_chat.allowed_origins == ("https://a.example.org",)


def test_values_given_already_typed_are_taken_as_they_are(monkeypatch):
    monkeypatch.setenv("BOT_SETTINGS_FILE", os.devnull)
    practice = Practice(name="Knees R Us")
    token = SecretStr("123:abc")
    settings = load_settings(practice=practice, telegram_token=token, data_dir=Path("data"))
    assert settings.practice is practice and settings.telegram_token is token


@pytest.mark.parametrize(("content", "expected"), [
    ("practice:\n  name: 42\n", "practice.name (BOT_PRACTICE__NAME): must be text (got '42')"),
    ("web_port: [80]\n", "web_port (BOT_WEB_PORT): must be a whole number"),
    ("web_chat:\n  enabled: sometimes\n", "web_chat.enabled (BOT_WEB_CHAT__ENABLED): must be "
     "true or false (got 'sometimes')"),
    ("practice: null\n", "practice (BOT_PRACTICE): must be a group of settings"),
    ("data_dir: 5\n", "data_dir (BOT_DATA_DIR): must be a path (got '5')"),
])
def test_a_value_of_the_wrong_kind_in_the_file_is_named(content, expected, tmp_path,
                                                        monkeypatch, capsys):
    settings_file(tmp_path, monkeypatch, content)
    monkeypatch.delenv("BOT_DATA_DIR")
    assert check_fails(capsys).startswith(expected)


def test_a_secret_is_read_but_never_shown(monkeypatch):
    monkeypatch.setenv("BOT_SETTINGS_FILE", os.devnull)
    monkeypatch.setenv("BOT_TELEGRAM_TOKEN", "123:very-secret")
    settings = load_settings()
    assert settings.telegram_token.get_secret_value() == "123:very-secret"
    assert "very-secret" not in repr(settings) + str(settings.telegram_token)


def test_null_in_the_file_unsets_an_optional_setting(tmp_path, monkeypatch):
    settings_file(tmp_path, monkeypatch, "discord_guild_id: ~\ntelegram_token: null\n")
    monkeypatch.setenv("BOT_STAFF_TELEGRAM_CHAT_ID", "-100123")
    settings = load_settings(staff_telegram_chat_id=None)  # the call unsets one too
    assert settings.discord_guild_id is None and settings.telegram_token is None
    assert settings.staff_telegram_chat_id is None


def test_a_long_wrong_value_is_shown_cut_to_sixty_characters():
    wrong = "not-a-port-" + "9" * 100
    (line,) = problems_of(BOT_WEB_PORT=wrong)
    assert line == f"web_port (BOT_WEB_PORT): must be a whole number (got {wrong[:60] + '...'!r})"


# What deploy/k8s/secret.yaml ships, and secrets short enough to guess: each refused in one
# plain line by `check` and by every command that starts the bot.
PLACEHOLDER_SECRETS = {
    "webhook secret as shipped": ("BOT_TELEGRAM_WEBHOOK_SECRET", "replace-me",
                                  "is still a placeholder"),
    "link secret as shipped": ("BOT_LINK_SECRET", "replace-me", "is still a placeholder"),
    "link secret change me": ("BOT_LINK_SECRET", "CHANGE_ME_please_0123456789",
                              "is still a placeholder"),
    "booking secret of one character": ("BOT_BOOKING_WEBHOOK_SECRET", "x", "must be at least 16"),
    "booking secret one short": ("BOT_BOOKING_WEBHOOK_SECRET", "k3J9-mQ2_vX7pL4", "must be at "
                                 "least 16"),
    "webhook secret one short": ("BOT_TELEGRAM_WEBHOOK_SECRET", "k3J9-mQ2_vX7pL4",
                                 "must be at least 16"),
    "link secret of one repeated letter": ("BOT_LINK_SECRET", "a" * 40, "is still a placeholder"),
    "telegram token as shipped": ("BOT_TELEGRAM_TOKEN", "replace-me", "is still a placeholder"),
    "discord token as shipped": ("BOT_DISCORD_TOKEN", "replace-me", "is still a placeholder"),
    "database password as shipped": ("BOT_DATABASE_URL",
                                     "postgresql://bot:replace-me@postgres:5432/bot",
                                     "has a placeholder password"),
}


@pytest.mark.parametrize(("name", "value", "expected"), PLACEHOLDER_SECRETS.values(),
                         ids=PLACEHOLDER_SECRETS.keys())
def test_a_placeholder_or_short_secret_is_refused_in_one_line(name, value, expected,
                                                              monkeypatch, capsys):
    monkeypatch.setenv(name, value)
    out = check_fails(capsys)
    setting = name.removeprefix("BOT_").lower()
    assert out.startswith(f"{setting} ({name}): {expected}"), out
    assert len(out.strip().splitlines()) == 1, out
    assert len(value) < 3 or value not in out  # a secret is never repeated, even a wrong one


@pytest.mark.parametrize("name", ["BOT_LINK_SECRET", "BOT_BOOKING_WEBHOOK_SECRET",
                                  "BOT_TELEGRAM_WEBHOOK_SECRET"])
@pytest.mark.parametrize("value", ["k3J9-mQ2_vX7pL4w", "k3J9-mQ2_vX7pL4wZ"])  # 16, 17
def test_a_real_secret_of_sixteen_characters_or_more_is_taken(name, value, monkeypatch):
    monkeypatch.setenv(name, value)
    load_settings()


def test_the_shipped_kubernetes_secret_does_not_start(monkeypatch):
    secret = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "secret.yaml").read_text())
    for name, value in next(iter(secret))["stringData"].items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    refused = {line.split(" ")[0] for line in error.value.lines}
    assert refused == {"telegram_token", "telegram_webhook_secret", "link_secret",
                       "booking_webhook_secret", "database_url"}
