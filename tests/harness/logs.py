"""What a log line may not give away, for the stories that turn every logger to DEBUG and run a
whole screening on a platform (Telegram, Discord): a person's contact details, the token, and
the ids of states and answers, which tell what the person answered."""

from __future__ import annotations

import logging
import re

from bot.turns.runner import TurnRunner

# Loggers turned to DEBUG before the bot starts; the bot may quiet some of them on purpose.
LIBRARY_LOGGERS = ("telegram", "httpx", "httpcore", "discord", "aiohttp", "transitions", "bot")
NAME, EMAIL = "Zebulon Quarry", "zq.private@example.com"
PHONE_TYPED, PHONE = "+1 415 555 2671", "+14155552671"
CONTACT_DETAILS = (NAME, "Zebulon", "Quarry", EMAIL, "zq.private", PHONE_TYPED, PHONE,
                   "555 2671", "5552671")
# Answer ids that are ordinary words in library lines ("connect_tcp ... socket_options=None",
# "Bootstrap done"): looked for only in what a line was filled in with, as test_privacy does.
ORDINARY_WORDS = {"begin", "me", "no", "yes", "none", "done", "now", "long", "pass", "skip", "who"}


def log_leaks(
    records: list[logging.LogRecord], secrets: tuple[str, ...], pressed: set[str],
    engine: TurnRunner,
) -> dict[str, list[str]]:
    """Each captured line that gives something away, and what: a contact detail or the token
    anywhere in it (any case); any state or answer id of any flow as a word in what it was
    filled in with (its args); an id pressed or a state visited, unless an ordinary word, or
    any id with an underscore ("rf_hot_swollen", "12|hips_tight"), as a word anywhere in it."""
    ids = ids_used(engine) | pressed
    distinctive = {i for i in ids if "_" in i} | (pressed - ORDINARY_WORDS)
    found: dict[str, list[str]] = {}
    for record in records:
        message = record.getMessage()
        args = record.args if isinstance(record.args, tuple) else (record.args or ())
        filled = " ".join(str(arg) for arg in args if arg is not None)  # not "Shard ID None"
        filled_words = set(re.findall(r"[\w']+", filled.lower()))
        words = set(re.findall(r"[\w']+", message.lower()))
        leaked = [secret for secret in secrets if secret.lower() in message.lower()]
        leaked += sorted((ids & filled_words) | (distinctive & words))
        if leaked:
            found[f"{record.name}: {message[:200]}"] = leaked
    return found


def ids_used(engine: TurnRunner) -> set[str]:
    """Every state id and answer id of every flow (a superset of those a story uses)."""
    ids = {"forget_yes", "forget_no", "done"}
    for flow in engine.flows.values():
        ids |= set(flow.states) | set(flow.red_flags) | set(flow.drivers)
        ids |= {o.id for state in flow.states.values() for o in state.options}
        ids |= {o.id for options in flow.option_sets.values() for o in options}
    return ids
