"""Per-member command rate limiting: at most N commands in any T seconds, refused (not delayed) beyond.

Hand-written on purpose rather than taken from a library: aiolimiter (the usual choice) makes a
caller *wait* for capacity and reads the event loop's clock, while a chat bot must *refuse* at once
("slow down") and tests must drive time with an injected monotonic clock instead of sleeping.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable

__all__ = ["RateLimiter"]


class RateLimiter:
    """A sliding-window limit per key (e.g. `(platform, user)`), with bounded memory.

    Each key keeps the monotonic times of its last `limit` allowed calls; a call is allowed when
    fewer than `limit` of them lie within the last `window` seconds. Keys idle for longer than the
    window carry no information and are evicted; at most `max_keys` keys are kept (least recently
    used go first), so a flood of distinct users cannot grow memory without bound.
    """

    def __init__(self, limit: int = 5, window: float = 10.0, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def allow(self, key: Hashable) -> bool:
        """Record a call by `key` and say whether it is within the limit (a refused call is not recorded)."""
        now = self._clock()
        self._evict_idle(now)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque(maxlen=self.limit)
        else:
            self._hits.move_to_end(key)
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)
        return True

    def retry_after(self, key: Hashable) -> float:
        """Seconds until `key` may call again (0 when it may now)."""
        hits = self._hits.get(key)
        if not hits or len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window - self._clock())

    def forget(self, key: Hashable) -> None:
        self._hits.pop(key, None)

    def __len__(self) -> int:
        return len(self._hits)

    def _evict_idle(self, now: float) -> None:
        # The OrderedDict is in least-recently-used order, so idle keys sit at the front.
        while self._hits:
            key, hits = next(iter(self._hits.items()))
            if hits and now - hits[-1] < self.window:
                break
            del self._hits[key]
