"""Which channels and staff places this deployment has: built once at start, frozen, and
passed to the turn runner and the dialog."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wiring:
    """`queued`: channels whose replies to a person's own update leave through the outbox
    (every channel but those whose caller collects the reply with the turn: the console,
    `say`, the test client). `delivered`: channels some process sends to unasked (replies to
    others' events: staff replies, check-ins, bookings). `pulled`: of those, the ones whose
    people collect what waits when they next come (the web chat), so no check-in is offered
    there. `staff_places`: the channels whose staff place is configured."""

    queued: frozenset[str] = frozenset()
    delivered: frozenset[str] = frozenset()
    pulled: frozenset[str] = frozenset()
    staff_places: frozenset[str] = frozenset()
    # Places that only hear of leads, requests and bookings (email, a webhook): nobody
    # answers a person from there, so a "talk to a person" request is not promised on them.
    alert_places: frozenset[str] = frozenset()

    @property
    def reachable_later(self) -> frozenset[str]:
        """Channels where a message can reach a person who did not just write (check-ins)."""
        return self.delivered - self.pulled


NO_WIRING = Wiring()  # a runner on its own (tests, the console): no channel sends unasked
