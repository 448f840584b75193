"""One community's weekly run: fill the outbox, then deliver each row claimed → sent, paced.

A run is keyed by the ISO week of its scheduled time. Rows are enqueued idempotently, so running a
week again (after a restart, a catch-up or `clout summary --send`) resumes it: only pending rows are
claimed, and a row is marked sent only after the adapter returned.

A claim left by a crash (the process died between claim and mark) is resolved by the platform's
policy, once, when the run resumes (docs/summaries.md):

- at most once (Telegram, and by default): the summary may have gone out, so it is never resent;
  the row becomes `uncertain`;
- resend with the same nonce (Discord, or any deliverer with `resend_with_nonce = True`): the row
  goes back to pending and is sent again with the nonce it had, which the platform uses to drop a
  duplicate.

Failures: `Unreachable` marks the row and turns the member's weekly summaries off (the next digest
reports the count to admins); `DestinationGone` skips the digest with a logged reason (the next
digest says so) and does not affect anyone else; `DeliveryFailed` retries up to `max_attempts`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.card import CardRenderer
from bot.chat.delivery import Deliverer, DeliveryFailed, DestinationGone, Unreachable
from bot.i18n import negotiate, translator
from bot.summary.content import WeekData, digest, load_week, personal
from bot.summary.pacing import Pacer, pacer_for
from bot.summary.schedule import week_key
from scoring.model import CommunityRef
from scoring.params import ALGORITHM
from storage.base import OutboxItem

__all__ = ["RunReport", "SummaryRunner", "resends_with_nonce"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


def resends_with_nonce(deliverer: Deliverer) -> bool:
    """The crash policy of a deliverer: True = resend a stale claim with its nonce (Discord drops the
    duplicate); False = at most once (Telegram has no idempotency key)."""
    flag = getattr(deliverer, "resend_with_nonce", None)
    return bool(flag) if flag is not None else deliverer.platform == "discord"


@dataclass(slots=True)
class RunReport:
    """What one call of `run_week` did (for logs, the CLI and tests)."""

    community: CommunityRef
    week: str
    skipped: str | None = None        # why nothing was attempted (no adapter, nothing to send)
    sent: int = 0
    unreachable: int = 0
    gone: int = 0
    failed: int = 0
    uncertain: int = 0                # stale claims not resent (at most once)
    resent: int = 0                   # stale claims released to be resent with their nonce
    completed: bool = False
    states: dict[str, int] = field(default_factory=dict)


class SummaryRunner:
    """Runs weekly summaries through the outbox. `deliverers` is looked up at run time (the app's
    live `adapters` dict), so adapters started later are used by later runs."""

    def __init__(self, store: object, deliverers: Mapping[str, Deliverer], *, renderer: CardRenderer | None = None,
                 clock: Callable[[], datetime], pacers: dict[str, Pacer] | None = None,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self.store: object = store
        self.deliverers = deliverers
        self.renderer = renderer or CardRenderer()
        self.clock = clock
        self.pacers: dict[str, Pacer] = pacers if pacers is not None else {}
        self.max_attempts = max(1, max_attempts)
        self._locks: dict[CommunityRef, asyncio.Lock] = {}
        # Set by a graceful shutdown: runs finish the summary in flight and stop before the next,
        # so no claim is left open (the rest stays pending and is resumed at the next start).
        self.stopping = asyncio.Event()

    def _pacer(self, platform: str) -> Pacer:
        pacer = self.pacers.get(platform)
        if pacer is None:
            pacer = self.pacers[platform] = pacer_for(platform)
        return pacer

    async def run_week(self, ref: CommunityRef, scheduled: datetime) -> RunReport:
        """Run (or resume) the week whose run was due at `scheduled`."""
        s: object = self.store
        settings = await s.community_settings(ref)  # type: ignore[attr-defined]
        week = week_key(scheduled, settings.timezone)
        report = RunReport(ref, week)
        deliverer = self.deliverers.get(ref.platform)
        if deliverer is None:
            # Not recorded: when the platform's adapter runs again, catch-up delivers this week.
            log.info("weekly summaries of %s for %s wait: no %s adapter is running", ref.key, week, ref.platform)
            report.skipped = "no_adapter"
            return report
        async with self._locks.setdefault(ref, asyncio.Lock()):
            runs = await s.summary_runs(ref, limit=2)  # type: ignore[attr-defined]
            before = next((r.algorithm for r in runs if r.week != week and r.algorithm), None)
            await s.start_summary_run(ref, week, scheduled, ALGORITHM)  # type: ignore[attr-defined]
            items: list[tuple[str, str]] = []
            if settings.summary_channel:
                items.append((settings.summary_channel, "digest"))
            items += [(u, "personal") for u in await s.weekly_subscribers(ref)]  # type: ignore[attr-defined]
            await s.outbox_enqueue(ref, week, items)  # type: ignore[attr-defined]
            await self._resolve_stale(ref, week, deliverer, report)
            pending = await s.outbox_items(ref, week, state="pending")  # type: ignore[attr-defined]
            if not pending and not items:
                report.skipped = "nothing_to_send"
            data: WeekData | None = None
            for _ in range(self.max_attempts):
                if not pending or self.stopping.is_set():
                    break
                if data is None:
                    data = await load_week(s, ref, scheduled, settings=settings, algorithm_before=before)
                for item in pending:
                    if self.stopping.is_set():
                        break
                    await self._deliver(ref, item, data, deliverer, report)
                pending = await s.outbox_items(ref, week, state="pending")  # type: ignore[attr-defined]
            rows = await s.outbox_items(ref, week)  # type: ignore[attr-defined]
            for row in rows:
                report.states[row.state] = report.states.get(row.state, 0) + 1
            if not any(r.state in ("pending", "claimed") for r in rows):
                await s.finish_summary_run(ref, week, self.clock())  # type: ignore[attr-defined]
                report.completed = True
        log.info("weekly summaries of %s for %s: %s", ref.key, week, report.states or report.skipped)
        return report

    async def _resolve_stale(self, ref: CommunityRef, week: str, deliverer: Deliverer, report: RunReport) -> None:
        """Claims still open when a run (re)starts were left by a process that died or lost
        leadership: one run per community at a time in this process, and one scheduling process per
        database (bot.leader; a leader that loses its lock cancels its runs before a follower can
        take over). Whether such a summary went out is unknown, so the policy decides, once."""
        s: object = self.store
        stale = await s.outbox_items(ref, week, state="claimed")  # type: ignore[attr-defined]
        resend = resends_with_nonce(deliverer)
        for item in stale:
            if resend:
                await s.outbox_mark(ref, week, item.recipient, item.kind, "pending", self.clock())  # type: ignore[attr-defined]
                report.resent += 1
            else:
                await s.outbox_mark(ref, week, item.recipient, item.kind, "uncertain", self.clock(),  # type: ignore[attr-defined]
                                    detail="stale_claim")
                report.uncertain += 1
                log.warning("%s summary of %s for %s may have been sent before a crash; not resent "
                            "(at most once)", item.kind, ref.key, week)

    async def _deliver(self, ref: CommunityRef, item: OutboxItem, data: WeekData, deliverer: Deliverer,
                       report: RunReport) -> None:
        s: object = self.store
        pacer = self._pacer(ref.platform)
        await pacer.acquire(item.recipient if item.kind == "digest" else None)
        claimed = await s.outbox_claim(ref, item.week, item.recipient, item.kind, self.clock())  # type: ignore[attr-defined]
        if claimed is None:
            return  # finished meanwhile
        try:
            if item.kind == "digest":
                reply = await digest(data, translator(data.settings.language))
                await deliverer.post(ref, item.recipient, reply, nonce=claimed.nonce)
            else:
                prefs = await s.member_prefs(ref, item.recipient)  # type: ignore[attr-defined]
                if not prefs.weekly or prefs.opted_out:
                    await self._mark(ref, item, "failed", "unsubscribed")
                    report.failed += 1
                    return
                tr = translator(negotiate(prefs.locale, data.settings.language))
                old = await self._old_score(ref, item.recipient, data)
                history = await self._history(ref, item.recipient, data)
                reply = await personal(data, item.recipient, tr, self.renderer, old_score=old, history=history)
                await deliverer.dm(item.recipient, reply, nonce=claimed.nonce)
        except Unreachable:
            await self._mark(ref, item, "unreachable", "unreachable")
            if item.kind == "personal":
                prefs = await s.member_prefs(ref, item.recipient)  # type: ignore[attr-defined]
                await s.set_member_prefs(ref, item.recipient, dataclasses.replace(prefs, weekly=False))  # type: ignore[attr-defined]
            report.unreachable += 1
        except DestinationGone as exc:
            await self._mark(ref, item, "gone", "destination_gone")
            report.gone += 1
            log.warning("the weekly %s of %s for %s was skipped: the destination is gone or closed to the bot "
                        "(%s)", item.kind, ref.key, item.week, type(exc).__name__)
        except DeliveryFailed:
            if claimed.attempts >= self.max_attempts:
                await self._mark(ref, item, "failed", "delivery_failed")
                report.failed += 1
            else:
                await self._mark(ref, item, "pending", None)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("building or sending a weekly %s of %s failed", item.kind, ref.key)
            await self._mark(ref, item, "failed", "error")
            report.failed += 1
        else:
            await self._mark(ref, item, "sent", None)
            report.sent += 1

    async def _mark(self, ref: CommunityRef, item: OutboxItem, state: str, detail: str | None) -> None:
        await self.store.outbox_mark(ref, item.week, item.recipient, item.kind, state, self.clock(),  # type: ignore[attr-defined]
                                     detail=detail)

    async def _old_score(self, ref: CommunityRef, user: str, data: WeekData) -> int | None:
        """Last week's stored (daily snapshot) score: the old formula's number when the algorithm changed."""
        if data.previous_algorithm is None:
            return None
        then = data.scheduled - timedelta(days=7)
        history = await self.store.score_history(ref, user, then - timedelta(days=1))  # type: ignore[attr-defined]
        before = [score for at, score in history if at <= then]
        return before[-1] if before else None

    async def _history(self, ref: CommunityRef, user: str, data: WeekData) -> list:  # type: ignore[type-arg]
        """Up to 12 weekly points (the latest daily snapshot of each week), oldest first."""
        snapshots = await self.store.score_history(ref, user, data.scheduled - timedelta(weeks=12))  # type: ignore[attr-defined]
        weekly: dict[int, tuple[datetime, int]] = {}
        for at, score in snapshots:
            if at > data.scheduled:
                continue
            week = max(0, (data.scheduled - at).days) // 7
            if week not in weekly or at > weekly[week][0]:
                weekly[week] = (at, score)
        return [(at.date(), score) for _, (at, score) in sorted(weekly.items(), reverse=True)][-12:]
