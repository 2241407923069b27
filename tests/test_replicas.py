"""Three bot replicas in webhook mode on one PostgreSQL, behind a load balancer that sends each
update to any of them: one person's updates never run at once, never twice, never out of
order, even when Telegram posts an update twice and a replica is killed mid-run.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.harness.ports import free_port
from tests.harness.screenings import (
    assert_questions_arrived_in_order,
    assert_screened_exactly_once,
    bot_environment,
    bot_process,
    expected_answers,
    people,
    wait_ready,
)
from tests.harness.telegram import webhook_settings

pytestmark = pytest.mark.process  # replicas: `python -m bot` processes, one killed
REPLICAS = 3


PEOPLE = 50


async def test_three_replicas_apply_every_answer_once_through_resends_and_a_kill(
    telegram: FakeTelegram, tmp_path: Path, postgres_url: str
) -> None:
    settings = webhook_settings(tmp_path, telegram, database_url=postgres_url)
    ports = [free_port() for _ in range(REPLICAS)]
    telegram.replicas = [f"http://127.0.0.1:{port}" for port in ports]
    telegram.webhook_retries, telegram.webhook_retry_pause = 300, 0.1
    telegram.webhook_duplicates = 0.3  # Telegram now and then posts an update twice
    env = bot_environment(settings, telegram)
    screenings = people(telegram, PEOPLE, first_id=8000)

    async with AsyncExitStack() as running:
        processes = []
        for port in ports:
            process = await running.enter_async_context(
                bot_process(env | {"BOT_WEB_PORT": str(port)}, webhook=True))
            processes.append(process)
        for port in ports:
            await wait_ready(port)
        screening = [asyncio.create_task(s.run(timeout=120)) for s in screenings]
        await telegram.wait_for_calls("sendMessage", PEOPLE * 8, timeout=120)
        processes[0].send_signal(signal.SIGKILL)  # mid-run: its updates in flight get no 200
        await processes[0].wait()
        await running.enter_async_context(
            bot_process(env | {"BOT_WEB_PORT": str(ports[0])}, webhook=True))
        await asyncio.wait_for(asyncio.gather(*screening), 180)
        for person in screenings:
            await person.finished()
        await telegram.webhook_settled()

    assert processes[0].returncode == -signal.SIGKILL
    assert len(telegram.duplicated) > 50, "many updates were posted twice"
    assert 0 in telegram.webhook_answers, "the killed replica left posts unanswered"
    assert_questions_arrived_in_order(screenings, resent=True)
    await assert_screened_exactly_once(settings, [s.person.user_id for s in screenings],
                                       await expected_answers(tmp_path))
