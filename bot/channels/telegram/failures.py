"""What kind of failure a Bot API call's error was, for the operators' metrics.

python-telegram-bot maps an answer's HTTP status to its errors (`BaseRequest`): 429 with
`retry_after` to `RetryAfter`; 400, 401, 403, 404 and 409 to their own classes; any other status
(in practice 5xx) to a plain `NetworkError`. The transports raise `TimedOut` for a timeout and a
`NetworkError` naming their own failure ("aiohttp.ClientConnectorError: ...", "httpx.ConnectError:
...") when no answer came at all.
"""

from __future__ import annotations

from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut

from bot.core.effects import OTHER_FAILURE, RATE_LIMITED, SERVER_ERROR, TIMED_OUT

TRANSPORT_FAILURES = ("aiohttp.", "httpx.")  # how the transports start a no-answer error


def failure_kind(error: TelegramError) -> str:
    """RATE_LIMITED, TIMED_OUT, SERVER_ERROR (an answer with a status the library gives no
    class of its own) or OTHER_FAILURE (refused, or no answer at all)."""
    if isinstance(error, RetryAfter):
        return RATE_LIMITED
    if isinstance(error, TimedOut):
        return TIMED_OUT
    if type(error) is NetworkError and not error.message.startswith(TRANSPORT_FAILURES):
        return SERVER_ERROR
    return OTHER_FAILURE
