"""`python -m bot telegram --webhook`, word for word, but without python-telegram-bot's
30-messages-a-second cap (see bench_replicas.py): 429s are still retried.

The cap (AIORateLimiter's default, bot/channels/telegram/lifecycle.py) is per process, so with
it a replica's throughput is the cap's (about 15 presses a second: a press makes two calls that
count, the edit and the next question) and N replicas measure N caps, not the bot. Run from the
repository root: `python -m scripts.bench.webhook_replica`, with the same environment.
"""

from __future__ import annotations

from telegram.ext import AIORateLimiter

import bot.channels.telegram.lifecycle as lifecycle
from bot.cli import main


def unthrottled(max_retries: int = lifecycle.RATE_LIMIT_RETRIES) -> AIORateLimiter:
    """What build_application makes, without the overall and per-group caps."""
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)


if __name__ == "__main__":
    lifecycle.AIORateLimiter = unthrottled  # type: ignore[misc,assignment]  # looked up per call
    raise SystemExit(main(["telegram", "--webhook"]))
