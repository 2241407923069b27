"""Pure decisions about scores: which drivers rank first, which deserve explaining."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def rank_drivers(drivers: Sequence[str], scores: Mapping[str, int]) -> list[str]:
    """Drivers that scored above zero, best first; ties keep the flow's order."""
    order = {driver: index for index, driver in enumerate(drivers)}
    scored = [driver for driver in drivers if scores.get(driver, 0) > 0]
    return sorted(scored, key=lambda driver: (-scores[driver], order[driver]))


def top_drivers(ranked: Sequence[str], scores: Mapping[str, int], most: int = 2) -> list[str]:
    """The one or two drivers worth explaining: the best, and the next if it is close."""
    if not ranked:
        return []
    chosen = [ranked[0]]
    best = scores[ranked[0]]
    for driver in ranked[1:most]:
        if scores[driver] >= 2 and scores[driver] * 2 >= best:
            chosen.append(driver)
    return chosen
