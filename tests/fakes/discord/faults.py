"""Discord in trouble, on request: requests answered with a fault instead of being done.

Interaction responses, follow-ups and their edits, DM sends and DM channel creation can be
answered 429 (with `retry_after`, as a spent bucket is), 403 (the person's DMs closed), 500,
502, 503, or not at all for `hang_for` seconds and then 504, as a request lost on its way.
A fault never does what was asked, so a client that tries again cannot make a duplicate.
Faults are drawn at random for a share of requests, from a seed (`inject`), or planned one by
one for a target (`plan`, taken first). Every attempt at a target and every fault answered are
kept, with the loop time of each attempt, so a test can say what was retried and when.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import Any

HANG = 0  # no answer for `hang_for` seconds, then 504
FAULT_KINDS = (429, 500, 502, 503, HANG)
CALLBACK, FOLLOWUP, EDIT, DM, OPEN_DM = "callback", "followup", "edit", "dm", "open_dm"
FAULT_TARGETS = frozenset({CALLBACK, FOLLOWUP, EDIT, DM, OPEN_DM})
ERRORS = {403: {"message": "Cannot send messages to this user", "code": 50007},
          **{status: {"message": message, "code": 0} for status, message in (
              (500, "Internal Server Error"), (502, "Bad Gateway"),
              (503, "Service Unavailable"), (504, "Gateway Timeout"))}}

Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


@dataclass(frozen=True)
class Fault:
    """One answer given instead of doing a request: a status (HANG: none), and for a 429 the
    seconds to wait."""

    status: int
    retry_after: float = 0.0


class Faults:
    """Which requests fail, and how; none until asked."""

    def __init__(self) -> None:
        self.share = 0.0
        self.kinds: tuple[int, ...] = FAULT_KINDS
        self.targets = FAULT_TARGETS
        self.retry_after = 0.3  # of a random 429
        self.hang_for = 3.0
        self._random = random.Random(0)
        self._planned: dict[str, list[Fault]] = {}
        self.faulted: list[tuple[str, Fault]] = []  # (target, fault) of every fault answered
        self.attempts: list[tuple[float, str]] = []  # (loop time, target) of every attempt

    def inject(self, share: float, seed: int, *, kinds: tuple[int, ...] = FAULT_KINDS,
               targets: frozenset[str] = FAULT_TARGETS) -> None:
        """From now on answer `share` of the requests to `targets` with one of `kinds`, drawn
        at random from `seed` (the same seed, the same draws for the same requests)."""
        self.share, self.kinds, self.targets = share, kinds, targets
        self._random = random.Random(seed)

    def plan(self, target: str, status: int, *, retry_after: float = 0.0,
             times: int = 1) -> None:
        """Answer the next `times` requests to `target` with `status` (HANG: none)."""
        self._planned.setdefault(target, []).extend([Fault(status, retry_after)] * times)

    def draw(self, target: str) -> Fault | None:
        """The fault for this attempt at `target`, if any: a planned one first."""
        self.attempts.append((asyncio.get_running_loop().time(), target))
        planned = self._planned.get(target)
        if planned:
            fault: Fault | None = planned.pop(0)
        elif target in self.targets and self._random.random() < self.share:
            status = self._random.choice(self.kinds)
            fault = Fault(status, self.retry_after if status == 429 else 0.0)
        else:
            fault = None
        if fault is not None:
            self.faulted.append((target, fault))
        return fault

    async def answer(self, fault: Fault) -> Answer:
        """What Discord answers, once it does (after `hang_for` s for a HANG)."""
        if fault.status == 429:
            body = {"message": "You are being rate limited.", "retry_after": fault.retry_after,
                    "global": False}
            headers = {"Retry-After": str(math.ceil(fault.retry_after)),
                       "X-RateLimit-Scope": "user"}
            return 429, body, headers
        if fault.status == HANG:
            await asyncio.sleep(self.hang_for)
            return 504, ERRORS[504], {}
        return fault.status, ERRORS[fault.status], {}
