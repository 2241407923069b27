"""Staff notifications to every configured place, one failure never blocking the others."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.core.effects import StaffNotice, StaffNotifier

log = logging.getLogger(__name__)


class AllStaffPlaces:
    """Sends each notice to every staff place (a Telegram chat, a Discord channel)."""

    def __init__(self, places: Sequence[StaffNotifier]) -> None:
        self.places = list(places)

    async def notify(self, notice: StaffNotice) -> None:
        for place in self.places:
            try:
                await place.notify(notice)
            except Exception as error:
                # The notice itself holds personal details: log only what kind it was.
                log.warning("could not send a %s notice to %s: %s", notice.kind,
                            type(place).__name__, type(error).__name__)
