"""A finding of `python -m bot check`: where it is and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: where it is and what is wrong."""

    file: str
    state: str
    field: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning" if self.warning else "error"
        where = f"state {self.state!r}, field {self.field!r}" if self.state else self.field
        return f"{self.file}: {where}: {kind}: {self.message}"
