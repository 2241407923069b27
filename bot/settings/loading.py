"""Reading settings: the defaults, then the settings file, then BOT_* environment variables,
each value given its type and checked, one plain line per setting that cannot work."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from bot.core import jsontext
from bot.settings.rules import SHOWN_INPUT, Check, ReadAs, SecretStr
from bot.settings.sections import Settings

ENV_PREFIX = "BOT_"
SETTINGS_FILE_VARIABLE = "BOT_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = Path("settings.yaml")
_FLOW_ID = re.compile(r"""^id:\s*["']?([\w-]+)""", re.MULTILINE)


class SettingsError(ValueError):
    """Settings that cannot work; `lines` holds one plain line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


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
        return f" (got {text if len(text) <= SHOWN_INPUT else text[:SHOWN_INPUT] + '...'!r})"


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
    if settings is not None:
        problems += [Problem(where, message, show_value=False)
                     for where, message in settings.alerts.problems()]
    if problems:
        raise SettingsError([problem.line() for problem in problems])
    return settings
