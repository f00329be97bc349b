"""The digest scheduler: at each scheduled time, the period's digest goes into the outbox once.

Every collector runs it (about every second, on the store's thread, like the stall
detector). Whichever inserts a period's deliveries first sends them; their ids are
fixed by (digest, period), so every other insert — a second collector, or this one
after a restart — is a no-op and nothing is sent twice. A period that ended while no
collector ran is still sent when one starts within the digest's ``catch_up``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from alerts import Delivery, RuleSet
from alerts.digest import Digest, Period
from alerts.digest_report import DigestReport, RunSearch, build_report, digest_deliveries

from .store.base import AlertStore
from .store.search import FilterError, parse_filter

__all__ = ["DigestScheduler", "scope_problem"]

logger = logging.getLogger(__name__)


def scope_problem(scope: str) -> str | None:
    """Why a digest's ``scope`` is not a runs filter (``alerts.parse_rules``' ``check_scope``), or None."""
    try:
        parse_filter(scope)
    except FilterError as exc:
        return f"not a runs filter: {exc}"
    return None


class DigestScheduler:
    """Queues each digest once per period of its schedule.

    >>> scheduler = DigestScheduler(ruleset, store.runs, store.alerts, public_url=settings.dashboard_url)
    >>> scheduler.tick()            # on the store's thread; returns the deliveries it inserted
    >>> scheduler.preview("nightly").title
    'Digest nightly: new best val/acc 0.93 (resnet-12)'
    """

    def __init__(
        self,
        ruleset: RuleSet,
        runs: RunSearch,
        outbox: AlertStore,
        *,
        public_url: str | None = None,
        dispatch: Callable[[list[Delivery]], None] | None = None,
        lease: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ruleset = ruleset
        self.runs = runs
        self.outbox = outbox
        self.public_url = public_url
        # With ``dispatch`` (the delivery worker's fast path) new deliveries are stored leased to
        # this process and handed over after the insert; a crash before sending leaves them to
        # ``claim_due`` once the lease expires.
        self.dispatch = dispatch
        self.lease = lease
        self.clock = clock
        self._handled: dict[str, str] = {}  # digest name → key of the last period handled here
        self.queued = self.skipped = 0

    def __repr__(self) -> str:
        return f"<DigestScheduler digests={len(self.ruleset.digests)} queued={self.queued} skipped={self.skipped}>"

    def tick(self, now: float | None = None) -> list[Delivery]:
        """Queue every digest whose period ended and was not handled yet; returns what this call inserted."""
        now = self.clock() if now is None else now
        inserted: list[Delivery] = []
        for digest in self.ruleset.digests:
            try:
                inserted += self._tick_one(digest, now)
            except Exception:
                logger.exception("digest %s failed; trying again at the next tick", digest.name)
        return inserted

    def report(self, digest: Digest, period: Period) -> DigestReport:
        return build_report(digest, self.runs, period, self.public_url)

    def preview(self, name: str, now: float | None = None) -> DigestReport:
        """What the digest would say if it were sent now (since its last scheduled time); ``KeyError`` if unknown."""
        digest = self.ruleset.digest(name)
        return self.report(digest, digest.current_period(self.clock() if now is None else now))

    def _tick_one(self, digest: Digest, now: float) -> list[Delivery]:
        period = digest.due_period(now)
        if self._handled.get(digest.name) == period.key:
            return []
        if now - period.end > digest.catch_up:
            self._handled[digest.name] = period.key
            self.skipped += 1
            logger.info("digest %s: period %s ended too long ago (catch_up), not sent", digest.name, period.key)
            return []
        try:
            report = self.report(digest, period)
        except FilterError as exc:
            self._handled[digest.name] = period.key
            logger.error(
                "digest %s: its scope is not a runs filter (%s); period %s not sent", digest.name, exc, period.key
            )
            return []
        channels = self.ruleset.notify_for_digest(digest)
        if self.dispatch is None:
            deliveries = digest_deliveries(report, channels, now)
        else:
            deliveries = digest_deliveries(report, channels, now, attempts=1, next_attempt_at=now + self.lease)
        inserted = self.outbox.transaction(lambda: self.outbox.add_deliveries(deliveries))
        self._handled[digest.name] = period.key
        if inserted:
            self.queued += 1
            logger.info("digest %s: period %s queued for %s", digest.name, period.key, ", ".join(channels))
            if self.dispatch is not None:
                try:
                    self.dispatch(inserted)
                except Exception:
                    logger.exception("dispatching digest %s failed; sent when its lease expires", digest.name)
        return inserted
