"""Delivery pacing: wait (not refuse) until a send is within the platform's limits.

Sliding windows per platform: a global one (Telegram about 30 messages/s; Discord 50 requests/s)
and one per destination (Telegram 20 messages/min to one group; Discord 5 messages per 5 s to one
channel). Hand-written rather than aiolimiter because the clock and the sleep are injected: tests
and the benchmark run delivery in virtual time, so 10,000 paced sends take milliseconds, not minutes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["LIMITS", "Limit", "Pacer", "pacer_for"]


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` sends in any `per` seconds."""

    count: int
    per: float


# platform -> (global limit, per-destination limit). Kept a little under the published numbers.
LIMITS: dict[str, tuple[Limit, Limit | None]] = {
    "telegram": (Limit(30, 1.0), Limit(20, 60.0)),
    "discord": (Limit(50, 1.0), Limit(5, 5.0)),
}
DEFAULT_LIMITS = (Limit(30, 1.0), None)


class _Window:
    __slots__ = ("limit", "times")

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more send fits (0 when it fits now)."""
        times, per = self.times, self.limit.per
        while times and times[0] <= now - per:
            times.popleft()
        return 0.0 if len(times) < self.limit.count else times[0] + per - now


class Pacer:
    """Paces sends through one platform connection. `acquire(destination)` returns when the send may go."""

    def __init__(self, overall: Limit, per_destination: Limit | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._global = _Window(overall)
        self._per = per_destination
        self._windows: dict[str, _Window] = {}
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.waited = 0.0  # total seconds spent waiting (for logs and the benchmark)
        self._count = 0

    async def acquire(self, destination: str | None = None) -> None:
        async with self._lock:
            window = None
            if self._per is not None and destination is not None:
                window = self._windows.get(destination)
                if window is None:
                    window = self._windows[destination] = _Window(self._per)
            while True:
                now = self._clock()
                wait = max(self._global.wait(now), window.wait(now) if window is not None else 0.0)
                if wait <= 0:
                    break
                self.waited += wait
                await self._sleep(wait)
            self._global.times.append(now)
            if window is not None:
                window.times.append(now)
            self._count += 1
            if self._count % 1_000 == 0:
                self._evict(now)

    def _evict(self, now: float) -> None:
        """Drop idle destinations, so a fan-out to 100k members does not keep 100k windows."""
        per = self._per.per if self._per is not None else 0.0
        idle = [d for d, w in self._windows.items() if not w.times or w.times[-1] <= now - per]
        for d in idle:
            del self._windows[d]


def pacer_for(platform: str, **options: object) -> Pacer:
    """A pacer with the limits of `platform` (unknown platforms get Telegram's global limit)."""
    overall, per = LIMITS.get(platform, DEFAULT_LIMITS)
    return Pacer(overall, per, **options)  # type: ignore[arg-type]
