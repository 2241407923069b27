"""Where the bot's log lines go and how they look: the level and format from the settings
(BOT_LOG_LEVEL, BOT_LOG_FORMAT), to standard error.

`text` is one readable line per record; `json` one JSON object per line (time, level, logger,
message, and the traceback of an error), for a log collector. Either way a line holds what the
bot's own code put in it: never a token, a person's words or their answers (tests/test_logs.py).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose informational lines carry what must not be logged (request URLs hold the
# bot token): warnings only, at any level. `transitions` is quieted where flows are built.
QUIET_LIBRARIES = ("httpx", "httpcore")


class JsonLines(logging.Formatter):
    """One JSON object a line: `time` (UTC, ISO 8601), `level`, `logger`, `message`, and
    `traceback` for a record with an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is written (tests swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def configure_logging(level: str, form: str) -> None:
    """Send every log record at `level` or above to standard error, as `text` or `json`, in
    place of what an earlier call set up. Logging set up by others (a program that runs the
    bot's CLI inside it, a test runner) is left as it is, as `logging.basicConfig` leaves it."""
    root = logging.getLogger()
    if any(not isinstance(h, StandardError) for h in root.handlers):
        return
    handler = StandardError()
    handler.setFormatter(JsonLines() if form == "json" else logging.Formatter(TEXT_FORMAT))
    for earlier in root.handlers[:]:
        root.removeHandler(earlier)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
