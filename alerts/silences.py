"""Silences: mute the notifications of matching alerts for a while (alerts are still recorded)."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.transition import Transition


@dataclass(frozen=True, slots=True)
class Silence:
    """Every matcher that is set must equal the alert's; at least one is set."""

    id: int
    rule: str | None
    run_id: str | None
    project: str | None
    starts_at: float
    ends_at: float
    comment: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, transition: Transition, now: float) -> bool:
        return (
            self.active(now)
            and (self.rule is None or self.rule == transition.rule)
            and (self.run_id is None or self.run_id == transition.run_id)
            and (self.project is None or self.project == transition.project)
        )


def silencing(silences: list[Silence], transition: Transition, now: float) -> Silence | None:
    """The first silence that mutes ``transition`` at ``now``, if any."""
    return next((s for s in silences if s.matches(transition, now)), None)
