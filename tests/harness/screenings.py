"""Many people screened by a script against the fake Bot API, and the bot as real processes
(`python -m bot telegram`, killed mid-run): what the reliability and replica stories share.

    env = bot_environment(settings, telegram)
    async with bot_process(env, webhook=True):
        await wait_ready(settings.web_port)
        screenings = people(telegram, 20)
        ...
    assert_questions_arrived_in_order(screenings, resent=True)
    await assert_screened_exactly_once(settings, ids, await expected_answers(tmp_path))
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from bot.app import build_engine
from bot.settings import ROOT, Settings, load_settings
from bot.store.sqlite import SQLiteStore
from bot.tools.client import DialogClient
from tests.conftest import HIP_MOBILITY_RUN, TO_PAIN_QUESTIONS
from tests.fakes.telegram import TOKEN, FakeTelegram, Person
from tests.fakes.telegram.screening import SHOWN_AGAIN, Screening

# A whole screening, with two typed answers: "no" to a safety question, 6 for the pain level.
SCRIPT = tuple(
    "no@no" if n == 5 else step for n, step in enumerate(TO_PAIN_QUESTIONS)
) + tuple("6@skip" if step == "skip" else step for step in HIP_MOBILITY_RUN)


async def expected_answers(tmp_path: Path) -> list[list[object]]:
    """The answers the script gives, as a bot that never failed records them."""
    settings = load_settings(data_dir=tmp_path / "reference")
    engine = build_engine(settings, SQLiteStore(":memory:"))
    person = DialogClient(engine, "reference")
    await person.send("/start")
    for step in SCRIPT:
        typed, _, choice = step.rpartition("@")
        await (person.send(typed) if typed else person.click(choice))
    conversation = await engine.store.load(person.channel, person.user_id)
    assert conversation is not None and conversation.state == "result"
    return conversation.last_outcome["answers"]  # type: ignore[index]


async def assert_screened_exactly_once(
    settings: Settings, user_ids: list[int], expected: list[list[object]]
) -> None:
    """Each person reached the result; their answers are the script's, each once and to the
    question it answered; one `started` and one `finished` event each."""
    engine = build_engine(settings)
    try:
        for user_id in user_ids:
            conversation = await engine.store.load("telegram", str(user_id))
            assert conversation is not None and conversation.state == "result", user_id
            assert conversation.last_outcome["answers"] == expected, user_id  # type: ignore[index]
            kinds = [kind for kind, *_ in await engine.store.events("telegram", str(user_id))]
            assert kinds == ["started", "finished"], (user_id, kinds)
            assert await engine.store.undelivered("telegram", str(user_id)) == 0
    finally:
        await engine.store.close()


def people(telegram: FakeTelegram, count: int, first_id: int = 7000) -> list[Screening]:
    return [
        Screening(Person(telegram, lambda _: asyncio.sleep(0), first_id + n), telegram, SCRIPT)
        for n in range(count)
    ]


def sent_to(telegram: FakeTelegram, user_id: int) -> list[tuple[int | None, str]]:
    """(turn of its buttons, text) of every message Telegram took for a chat, in order, as it
    was sent; and of every question edited in place with new buttons (a pick in a
    pick-several)."""
    sent = []
    for call in telegram.calls:
        chat = call.params.get("chat_id")
        wanted = call.method in ("sendMessage", "editMessageText") and call.status == 200
        if not wanted or str(chat) != str(user_id):
            continue
        markup = call.params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        data = [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row
                if "callback_data" in b]
        if call.method == "sendMessage" or data:
            sent.append((int(data[0].split("|")[0]) if data else None, str(call.params["text"])))
    return sent


def assert_questions_arrived_in_order(screenings: list[Screening], resent: bool = False) -> None:
    """Each person was sent their questions in the order asked, each once, but where the bot
    said it was showing one again; with `resent` (processes killed after Telegram took a
    message, before they recorded that), a message may also come again, late: at least once,
    never skipped, never a new one out of order."""
    for screening in screenings:
        sent = sent_to(screening.telegram, screening.person.user_id)
        seen: set[tuple[int, str]] = set()
        newest, shown_again = -1, False
        for turn, text in sent:
            if turn is None:
                shown_again = SHOWN_AGAIN in text or (shown_again and not text)
                continue
            again = (turn, text) in seen
            in_order = turn > newest or (shown_again and turn == newest)
            assert in_order or (resent and again), (screening.person.user_id, sent)
            seen.add((turn, text))
            newest, shown_again = max(newest, turn), False
        shown = {turn for turn, _ in sent if turn is not None}
        assert {turn for turn, _ in screening.pressed} <= shown


def bot_environment(settings: Settings, telegram: FakeTelegram) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env |= {
        "BOT_SETTINGS_FILE": os.devnull,
        "BOT_TELEGRAM_TOKEN": TOKEN,
        "BOT_TELEGRAM_BASE_URL": telegram.base_url,
        "BOT_TELEGRAM_BASE_FILE_URL": telegram.base_file_url,
        "BOT_DATA_DIR": str(settings.data_dir),
        "BOT_WEB_PORT": str(settings.web_port),
        "BOT_LINK_SECRET": "same-on-every-process",
        "BOT_OUTBOX_LEASE": "2",  # a killed process's sends are taken over after 2 s
    }
    if settings.telegram_webhook_url:
        env["BOT_TELEGRAM_WEBHOOK_URL"] = settings.telegram_webhook_url
        env["BOT_TELEGRAM_WEBHOOK_SECRET"] = "right-webhook-secret-7Qx"
    if settings.database_url is not None:
        env["BOT_DATABASE_URL"] = settings.database_url.get_secret_value()
    return env


@asynccontextmanager
async def bot_process(env: dict[str, str], webhook: bool) -> AsyncIterator[Process]:
    """`python -m bot telegram [--webhook]` as its own process; killed if still running. Its
    log must hold no traceback."""
    args = ["-m", "bot", "telegram", *(["--webhook"] if webhook else [])]
    log = Path(env["BOT_DATA_DIR"]).parent / f"bot-{os.urandom(3).hex()}.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(sys.executable, *args, cwd=ROOT,
                                                       env=env, stderr=stderr)
        try:
            yield process
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


async def wait_ready(port: int, timeout: float = 20.0) -> None:
    """Until the process's /readyz answers 200 (channels started, database answering)."""
    async with aiohttp.ClientSession() as client, asyncio.timeout(timeout):
        while True:
            try:
                async with client.get(f"http://127.0.0.1:{port}/readyz") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
