"""Throughput of the Telegram bot against a bare python-telegram-bot echo bot, same fake API.

Many simulated people go through the knee screening by buttons (the /start, then every press
waits for the bot's next question, or for its question edited with the pick ticked, like a
person). The same people then drive a bare echo bot
with the same number of updates. The fake Telegram and the people run in a child process, the
bot in this one, so the figures measure the bot. Prints updates/s for both and their ratio.

    .venv/bin/python scripts/bench_telegram.py [--people 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import InlineKeyboardMarkup, Message, Update  # noqa: E402
from telegram.constants import ParseMode  # noqa: E402
from telegram.ext import (  # noqa: E402
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.app import build_engine  # noqa: E402
from bot.channels.telegram import TelegramChannel  # noqa: E402
from bot.channels.telegram.handlers import CHANNEL  # noqa: E402
from bot.channels.telegram.lifecycle import POLL_TIMEOUT  # noqa: E402
from bot.channels.telegram.ordering import CONCURRENT_UPDATES  # noqa: E402
from bot.channels.telegram.render import html_chunks, keyboard, to_html  # noqa: E402
from bot.channels.telegram.webhook import ALLOWED_UPDATES  # noqa: E402
from bot.core.events import Event, EventKind, Reply  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from bot.store.sqlite import SQLiteStore  # noqa: E402
from tests.fakes.telegram import (  # noqa: E402
    SCREENING_BY_BUTTONS,
    TOKEN,
    FakeTelegram,
    Person,
)

PRESSES = SCREENING_BY_BUTTONS
UPDATES_PER_PERSON = 1 + len(PRESSES)
FIRST_USER_ID = 10_000
ECHO, ECHO_SAME_CALLS, REPLAY, SCREENING = "echo", "echo+edit", "replay", "screening"
Outgoing = list[tuple[str, InlineKeyboardMarkup | None]]


# -- the simulated people (child process, with the fake API) ----------------------------------


async def screening_person(telegram: FakeTelegram, user_id: int) -> None:
    """/start, then press through the whole screening, each press on the newest question."""
    person = Person(telegram, _no_wait, user_id)
    await _act_and_wait(person, lambda: person.send("/start"))
    for label in PRESSES:
        await _press_and_wait(person, label)


async def echo_person(telegram: FakeTelegram, user_id: int) -> None:
    """The same number of updates (one text, then presses) for the echo bot."""
    person = Person(telegram, _no_wait, user_id)
    await _act_and_wait(person, lambda: person.send("/start"))
    for _ in PRESSES:
        message = person.received[-1]
        update = telegram.press_update(person.user, message, "1|press")
        await _act_and_wait(person, lambda update=update: telegram.push(update))


async def _no_wait(update_id: int) -> None:
    """Completion is the bot's reply arriving (see _act_and_wait), not a hook in the bot."""


async def _act_and_wait(person: Person, act: Callable[[], Awaitable[object]]) -> None:
    expected = len(person.received) + 1
    await act()
    await person.telegram.wait_for_messages(person.user_id, expected, timeout=120)


async def _press_and_wait(person: Person, label: str) -> None:
    """Press, then wait for buttons of a newer turn: the next question, or (a pick in a
    pick-several question) the same question edited in place."""
    shown = _newest_turn(person)
    await person.press(label)
    await person.telegram.wait_until(
        person.user_id, lambda: _newest_turn(person) > shown, timeout=120
    )


def _newest_turn(person: Person) -> int:
    return max((m.turn for m in person.received if m.turn is not None), default=-1)


async def drive(kind: str, people: int, conn: Connection) -> None:
    """Serve the fake API, wait for the bot, run everybody at once, report the time taken."""
    async with FakeTelegram() as telegram:
        conn.send(telegram.base_url)
        await asyncio.to_thread(conn.recv)  # the bot is running
        person = screening_person if kind in (SCREENING, REPLAY) else echo_person
        began, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(person(telegram, FIRST_USER_ID + n) for n in range(people)))
        elapsed = time.perf_counter() - began
        conn.send((elapsed, time.process_time() - cpu))
        await asyncio.to_thread(conn.recv)  # the bot has stopped


def drive_process(kind: str, people: int, conn: Connection) -> None:
    asyncio.run(drive(kind, people, conn))


# -- the bots (this process) ------------------------------------------------------------------


def echo_application(base_url: str, edit: bool) -> Application:
    """A bare python-telegram-bot echo bot: answer each press (edit the pressed message, with
    `edit`, as the screening bot does) and send back what came in."""

    async def echo_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await context.bot.send_message(update.message.chat_id, update.message.text or "")

    async def echo_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        await query.answer()
        if edit:
            await query.edit_message_text(f"{query.message.text}\n\n» {query.data}")
        await context.bot.send_message(query.message.chat.id, query.data or "")

    application = bare_application(base_url)
    application.add_handler(MessageHandler(filters.TEXT, echo_text))
    application.add_handler(CallbackQueryHandler(echo_press))
    return application


@dataclass
class Step:
    """What the screening bot does for one update: the answer line, then its messages; or,
    for a pick in a pick-several question, the pressed message's new text and keyboard."""

    answered_html: str
    outgoing: Outgoing
    edit: tuple[str, InlineKeyboardMarkup | None] | None = None


async def recorded_screening(settings: Settings) -> list[Step]:
    """The screening bot's replies for PRESSES, rendered once by the engine and the channel."""
    engine = build_engine(settings, SQLiteStore(":memory:"))
    user = "replay"
    reply = await engine.handle(Event.from_text(CHANNEL, user, "/start"))
    steps = [Step("", outgoing_of(reply))]
    for label in PRESSES:
        (choice,) = [c for c in reply.messages[-1].choices if c.label == label]
        event = Event(CHANNEL, user, EventKind.PRESS, choice_id=choice.id, turn=reply.turn)
        reply = await engine.handle(event)
        if reply.edit:
            steps.append(Step("", [], outgoing_of(reply)[-1]))
            continue
        answer = reply.extras["answered"]
        line = engine.notice("telegram/answered.j2", channel=CHANNEL, answer=answer)
        steps.append(Step(to_html(line), outgoing_of(reply)))
    await engine.store.close()
    return steps


def outgoing_of(reply: Reply) -> Outgoing:
    sent: Outgoing = []
    for message in reply.messages:
        chunks = html_chunks(message.text)
        sent += [(chunk, None) for chunk in chunks[:-1]]
        sent.append((chunks[-1], keyboard(message, reply.turn)))
    return sent


def replay_application(base_url: str, steps: list[Step]) -> Application:
    """The bare library doing exactly the screening bot's Telegram calls, answers precomputed."""
    progress: dict[int, int] = {}

    async def replay(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = update.effective_chat.id if update.effective_chat else 0
        step = steps[progress.get(chat_id, 0)]
        progress[chat_id] = progress.get(chat_id, 0) + 1
        if (query := update.callback_query) is not None and step.edit is not None:
            text, markup = step.edit
            await asyncio.gather(query.answer(), query.edit_message_text(text, reply_markup=markup))
            return
        if query is not None:
            assert isinstance(query.message, Message)
            answered = f"{query.message.text_html}\n\n{step.answered_html}"
            await asyncio.gather(query.answer(), query.edit_message_text(answered))
        for text, markup in step.outgoing:
            await context.bot.send_message(chat_id, text, reply_markup=markup)

    # The same rate limiter as the bot: it is part of how the bot makes its Telegram calls.
    application = bare_application(base_url, ParseMode.HTML, unthrottled_limiter())
    application.add_handler(TypeHandler(Update, replay))
    return application


def bare_application(
    base_url: str, parse_mode: str | None = None, rate_limiter: AIORateLimiter | None = None
) -> Application:
    builder = ApplicationBuilder().token(TOKEN).base_url(base_url)
    if parse_mode:
        builder = builder.defaults(Defaults(parse_mode=parse_mode))
    if rate_limiter:
        builder = builder.rate_limiter(rate_limiter)
    return builder.concurrent_updates(CONCURRENT_UPDATES).build()


def unthrottled_limiter() -> AIORateLimiter:
    """429s are still retried, but no 30 messages/s cap: that would measure the cap."""
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=5)


async def run_round(kind: str, people: int, data_dir: Path) -> float:
    """One measured run; returns updates per second."""
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=drive_process, args=(kind, people, theirs)
    )
    child.start()
    base_url = await asyncio.to_thread(ours.recv)
    settings = bench_settings(base_url, data_dir / kind)
    try:
        async with running(kind, settings, base_url):
            cpu = time.process_time()
            ours.send("go")
            elapsed, fake_cpu = await asyncio.to_thread(ours.recv)
            bot_cpu = time.process_time() - cpu
            print(f"  cpu busy: bot {bot_cpu / elapsed:.0%}, fake+people {fake_cpu / elapsed:.0%}")
    finally:
        ours.send("stopped")
        await asyncio.to_thread(child.join)
    return people * UPDATES_PER_PERSON / elapsed


@asynccontextmanager
async def running(kind: str, settings: Settings, base_url: str) -> AsyncIterator[None]:
    """The screening bot as the runner starts it (`TelegramChannel`), or a bare bot, polling."""
    if kind == SCREENING:
        engine = build_engine(settings)
        channel = TelegramChannel(engine, settings, rate_limiter=unthrottled_limiter())
        await channel.start()
        try:
            yield
        finally:
            await channel.stop()
            await engine.store.close()
        return
    if kind == REPLAY:
        application = replay_application(base_url, await recorded_screening(settings))
    else:
        application = echo_application(base_url, edit=kind == ECHO_SAME_CALLS)
    async with application:  # initialize, and shut down at the end
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
        )
        try:
            yield
        finally:
            await application.updater.stop()
            await application.stop()


def bench_settings(base_url: str, data_dir: Path) -> Settings:
    return load_settings(
        data_dir=data_dir,
        telegram_token=TOKEN,
        telegram_base_url=base_url,
        telegram_base_file_url=base_url.replace("/bot", "/file/bot"),
    )


async def main(people: int, rounds: int) -> None:
    figures: dict[str, list[float]] = {ECHO: [], ECHO_SAME_CALLS: [], REPLAY: [], SCREENING: []}
    with tempfile.TemporaryDirectory() as folder:
        for number in range(1, rounds + 1):
            for kind, rates in figures.items():
                rates.append(await run_round(kind, people, Path(folder) / str(number)))
                print(f"round {number} {kind:>9}: {rates[-1]:7.0f} updates/s", flush=True)
    echo, same_calls, replay, bot = (statistics.median(figures[kind]) for kind in figures)
    print(f"\n{people} people x {UPDATES_PER_PERSON} updates each, median of {rounds} rounds:")
    print(f"  bare echo bot (answer press, send):               {echo:7.0f} updates/s")
    print(f"  bare echo bot (answer press, edit, send):         {same_calls:7.0f} updates/s")
    print(f"  library replaying the bot's calls (same limiter): {replay:7.0f} updates/s")
    print(f"  screening bot (engine, SQLite, HTML):             {bot:7.0f} updates/s")
    print(f"  ratio to the replay (same calls, payloads, limiter): {bot / replay:.2f} (target 0.8)")
    print(f"  ratio to the echo bot with the same calls:           {bot / same_calls:.2f}")
    print(f"  ratio to the minimal echo bot:                       {bot / echo:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.people, arguments.rounds))
