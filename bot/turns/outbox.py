"""At least once out: the messages a turn saved in the store's outbox are sent from there.

Right after a turn the channel asks for the person's messages to be sent (`flush`); whatever
could not go then (a 502, a 429, a crash, a restart) is sent by `run`, which every process
runs for the channels it serves. A message is claimed before it is sent, so two processes
never send it at once, and a person's messages go one at a time, oldest first.

A turn whose messages this process sends, and which has no older ones waiting, claims them as
it saves them (`Claim`): the flush after it sends them without claiming. Whoever sends a
message looks for the person's next one only when the store says one was queued behind it
meanwhile (`store.sent`), e.g. by another replica while ours was on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.effects import TIMED_OUT, Address, DeliveryFailed, Outbox, Outgoing, StaffNotifier
from bot.core.events import Reply
from bot.store.base import ConversationStore
from bot.turns.metrics import Metrics

LEASE = 30.0  # seconds a claim lasts: a process killed mid-send frees its messages after it
SEND_SHARE = 0.8  # of the lease, the time one send may take before it counts as failed
FIRST_RETRY = 0.5  # seconds before the first retry; doubled on each attempt
LONGEST_WAIT = 300.0
MAX_ATTEMPTS = 15  # about an hour of retries, then the message is dropped and logged
POLL_EVERY = 1.0

log = logging.getLogger(__name__)


class Sent(enum.Enum):
    """How sending one message ended, and whether to look for the person's next one."""

    FAILED = "failed"  # to be retried (or dropped): what is queued behind it waits
    LAST = "last"  # the platform took it; none was queued behind it
    MORE = "more"  # the platform took it; another was queued behind it meanwhile


@dataclass(frozen=True, slots=True)
class Claim:
    """A person's messages claimed for this process by the turn that saved them, until `until`
    (by the deliveries' clock); the person's next flush sends them as they are."""

    address: Address
    messages: tuple[Outgoing, ...]
    until: float


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait after `attempts` failed sends: doubling with jitter, capped, and never
    less than what the platform asked for."""
    backoff = min(LONGEST_WAIT, FIRST_RETRY * 2 ** max(0, attempts - 1))
    backoff *= random.uniform(0.8, 1.2)
    return max(backoff, retry_after or 0.0)


class Deliveries:
    """Sends outbox messages through each channel's `Outbox.deliver`."""

    def __init__(
        self, store: ConversationStore, clock: Callable[[], float] = time.time,
        lease: float = LEASE, metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.lease = lease
        # channel name -> how to reach a person there; `staff:<channel>` -> that staff place
        self.outboxes: dict[str, Outbox | StaffNotifier] = {}
        self._wake = asyncio.Event()
        self._claimed: dict[Address, Claim] = {}

    def send_at_flush(self, claim: Claim) -> None:
        """Messages a turn claimed for this process as it saved them (committed): the person's
        next flush sends them first, without claiming them again."""
        self._claimed[claim.address] = claim

    async def flush(self, address: Address) -> bool:
        """Send the person's waiting messages, in order, now; True when none is left for this
        process to send now (another sender or a scheduled retry has the rest). A failure
        leaves the rest for `run`, after a pause."""
        outbox = self.outboxes.get(address.channel)
        if outbox is None:
            return False  # a process that runs that channel will send them
        claim = self._claimed.pop(address, None)
        # Nothing claimed with the turn: the person's oldest message is looked for, as after
        # a send with one queued behind it.
        sent = Sent.MORE if claim is None else await self._send_claimed(outbox, claim)
        while sent is Sent.MORE:
            now = self.clock()
            outgoing = await self.store.claim_next(address, now, self.lease)
            if outgoing is None:  # none left, or held, claimed or waiting for its retry; a
                return True  # sender that has one looks for what is queued behind it
            sent = await self._send(outbox, outgoing, now + self.lease)
        return sent is Sent.LAST

    async def collect(self, address: Address, limit: int) -> list[Outgoing]:
        """Take a person's waiting messages, oldest first (a pull channel shows them now)."""
        taken: list[Outgoing] = []
        for _ in range(limit):
            now = self.clock()
            outgoing = await self.store.next_for(address, now)
            if outgoing is None or not await self.store.claim(outgoing.id, now, self.lease):
                break
            taken.append(outgoing)
            await self.store.sent(outgoing.id)
        return taken

    async def send_due(self) -> int:
        """One pass over every message due on the channels this process serves; how many
        were sent."""
        sent = 0
        self._forget_ended_claims()
        for outgoing in await self.store.due(list(self.outboxes), self.clock()):
            now = self.clock()
            if not await self.store.claim(outgoing.id, now, self.lease):
                continue  # another sender took it
            outbox = self.outboxes[outgoing.address.channel]
            result = await self._send(outbox, outgoing, now + self.lease)
            sent += result is not Sent.FAILED
            if result is Sent.MORE:
                await self.flush(outgoing.address)  # the person's next ones, in order
        return sent

    async def run(self, every: float = POLL_EVERY) -> None:
        """Send what is due, forever (until cancelled): at start what a crash left, then
        retries as they fall due."""
        while True:
            try:
                await self.send_due()
            except Exception as error:  # the store is down for a moment: try again later
                log.warning("outbox pass failed: %s", type(error).__name__)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), every)

    def wake(self) -> None:
        """Look for due messages now rather than at the next pass."""
        self._wake.set()

    async def _send_claimed(self, outbox: Outbox | StaffNotifier, claim: Claim) -> Sent:
        """Send the messages a turn claimed, in order. After a failure the rest are freed, to
        follow the failed one; a claim ending too soon for a send leaves them to whoever takes
        them once it has ended."""
        sent = Sent.MORE
        for number, outgoing in enumerate(claim.messages):
            if self._time_to_send(claim.until) <= 0:
                return Sent.MORE  # (the look that follows finds them claimed until then)
            sent = await self._send(outbox, outgoing, claim.until)
            if sent is Sent.FAILED:
                for behind in claim.messages[number + 1:]:
                    await self.store.release(behind.id)
                return sent
        return sent

    def _time_to_send(self, claimed_until: float) -> float:
        """Seconds a send may take and still be settled before its claim ends."""
        return claimed_until - self.lease * (1 - SEND_SHARE) - self.clock()

    def _forget_ended_claims(self) -> None:
        """Claims of turns whose flush never came (the channel failed in between): their
        messages are any sender's once the claims end."""
        now = self.clock()
        for address, claim in list(self._claimed.items()):
            if claim.until < now:
                del self._claimed[address]

    async def _send(
        self, outbox: Outbox | StaffNotifier, outgoing: Outgoing, claimed_until: float
    ) -> Sent:
        """Send one message claimed for this process and settle it."""
        attempts = outgoing.attempts + 1
        # `queued`: the channel may know where the answer to the turn that queued it goes
        reply = Reply(messages=(outgoing.message,), turn=outgoing.turn, state="",
                      queued=(outgoing.id,))
        try:  # settled before the claim ends, so another sender never takes it meanwhile
            async with asyncio.timeout(self._time_to_send(claimed_until)):
                if outgoing.notice is not None:
                    await outbox.notify(outgoing.notice)  # type: ignore[union-attr]
                else:
                    await outbox.deliver(outgoing.address, reply)  # type: ignore[union-attr]
        except TimeoutError:
            return await self._failed(outgoing, attempts, DeliveryFailed("send timed out",
                                                                      kind=TIMED_OUT))
        except DeliveryFailed as failure:
            return await self._failed(outgoing, attempts, failure)
        except Exception as error:  # a channel bug must not stop the outbox; retried, logged
            log.error("sending a message failed unexpectedly: %s", type(error).__name__,
                      exc_info=error)
            return await self._failed(outgoing, attempts, DeliveryFailed(type(error).__name__))
        return Sent.MORE if await self.store.sent(outgoing.id) else Sent.LAST

    async def _failed(self, outgoing: Outgoing, attempts: int, failure: DeliveryFailed) -> Sent:
        channel = outgoing.address.channel
        self.metrics.send_failed(channel, failure.kind)
        if failure.permanent or attempts >= MAX_ATTEMPTS:
            notice = outgoing.notice
            what = f"a {notice.kind} notice" if notice else "a message to a person"
            log.warning("%s on %s was dropped after %d attempt(s): %s", what, channel,
                        attempts, failure.reason)
            await self.store.sent(outgoing.id)
            return Sent.FAILED
        delay = retry_delay(attempts, failure.retry_after)
        log.info("a message to a person on %s will be retried in %.1f s: %s", channel, delay,
                 failure.reason)
        await self.store.retry_later(outgoing.id, self.clock() + delay, failure.reason)
        return Sent.FAILED
