"""The web chat when the network fails between the browser and the bot: a share of requests
whose answer never reaches the page (the page sends the same message again, as chat.js does
after a failed fetch), and of requests cut off while the bot works on them. The same story as
Discord's and Telegram's fault stories: every person finishes, every answer is applied once,
and every question reaches the page in order.

The real server (bot/server.py's guarded site) over real sockets on 127.0.0.1, with aiohttp as
the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import HIP_MOBILITY_RUN, TO_PAIN_QUESTIONS
from tests.test_web_chat import ChatServer, chat_server

FAULT_SHARE, SEED = 0.15, 24
LOST, CUT_OFF = "answer lost", "cut off"
PRESSES = (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN)


@dataclass
class Page:
    """One person's page: what it sent, and the turns of the questions it was shown."""

    chat: ChatServer
    session: str
    rng: random.Random
    share: float = FAULT_SHARE
    faults: list[str] = field(default_factory=list)
    shown_turns: list[int] = field(default_factory=list)

    async def send(self, **fields: Any) -> dict[str, Any]:
        """One message; on a fault, the page sends the same message (same id) again."""
        body = self.chat.turn_body(self.session, **fields)
        if self.rng.random() < self.share:
            await self._fail_once(body)
        status, answer, _ = await self.chat.post("turn", body)
        assert status == 200, answer
        if answer["messages"]:
            self.shown_turns.append(answer["turn"])
        return answer

    async def _fail_once(self, body: dict[str, Any]) -> None:
        kind = self.rng.choice((LOST, CUT_OFF))
        self.faults.append(kind)
        if kind == LOST:  # the bot answered; the answer never reached the page
            status, _, _ = await self.chat.post("turn", body)
            assert status == 200
            return
        # the connection dropped while the bot worked on it: applied or not, the page can't tell
        with contextlib.suppress(TimeoutError, aiohttp.ClientError):
            await asyncio.wait_for(self.chat.post("turn", body), self.rng.uniform(0, 0.02))

    async def screen(self) -> dict[str, Any]:
        answer = await self.send(text="/start")
        for choice in PRESSES:
            answer = await self.send(choice=choice, turn=answer["turn"])
        return answer


async def test_every_web_person_finishes_once_and_in_order_when_requests_fail(tmp_path: Path):
    rng = random.Random(SEED)
    async with chat_server(tmp_path, session_burst=1000, address_burst=10_000) as chat:
        reference = Page(chat, "web-fault-free-person-0123456789", rng, share=0.0)
        await reference.screen()
        pages = [Page(chat, f"web-fault-person-{n:02d}-0123456789", random.Random(rng.random()))
                 for n in range(6)]
        finals = await asyncio.gather(*(page.screen() for page in pages))

        faults = [kind for page in pages for kind in page.faults]
        assert {LOST, CUT_OFF} <= set(faults) and len(faults) >= 10, "the run met faults"
        for page, final in zip(pages, finals, strict=True):
            assert final["state"] == "result"
            assert page.shown_turns == sorted(set(page.shown_turns)), "in order, each once"
            expected = await answers(chat, reference.session)
            assert await answers(chat, page.session) == expected, "each applied once"
            kinds = [kind for kind, *_ in await chat.engine.store.events("web", page.session)]
            assert kinds == ["started", "finished"]


async def answers(chat: ChatServer, session: str) -> list[object]:
    conversation = await chat.engine.store.load("web", session)
    assert conversation is not None
    return [answer.value for answer in conversation.history]
