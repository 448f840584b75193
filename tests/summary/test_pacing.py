"""Pacing in virtual time (no sleeping): sends stay within the platform's windows; fast numbers match Babel."""

from __future__ import annotations

import pytest

from bot.i18n import translator
from bot.summary.content import FastNumbers
from bot.summary.pacing import LIMITS, Limit, Pacer, pacer_for
from tests.summary.conftest import VirtualTime


def _max_in_window(times: list[float], per: float) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - per:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_pacing_global_limit_spreads_sends_over_time() -> None:
    clock = VirtualTime()
    pacer = Pacer(Limit(30, 1.0), clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(95):
        await pacer.acquire()
        times.append(clock())
    assert _max_in_window(times, 1.0) == 30
    assert times[29] == 0.0 and times[30] == pytest.approx(1.0) and times[-1] == pytest.approx(3.0)


async def test_pacing_per_destination_limit_binds_only_that_destination() -> None:
    clock = VirtualTime()
    overall, per = LIMITS["discord"]
    pacer = Pacer(overall, per, clock=clock, sleep=clock.sleep)
    channel = []
    for _ in range(12):
        await pacer.acquire("general")
        channel.append(clock())
    assert _max_in_window(channel, 5.0) == 5 and channel[-1] == pytest.approx(10.0)
    start = clock()
    for i in range(40):
        await pacer.acquire(f"dm-{i}")  # other destinations are not held back by #general
    assert clock() == pytest.approx(start)


def test_pacing_unknown_platform_gets_a_conservative_limit() -> None:
    assert pacer_for("console")._global.limit == Limit(30, 1.0)


@pytest.mark.parametrize("lang", ["en", "de"])
def test_fast_numbers_match_babel(lang: str) -> None:
    tr = translator(lang)
    fast = FastNumbers(tr)
    values = [0, 1, 7, 12.25, 999.94, 1234.5, 98765.4321, 1_000_000, 0.333, 42.0, 3.14159]
    for v in values:
        for digits in (0, 1, 2):
            assert fast.number(v, digits) == tr.number(v, digits), (v, digits)
            assert fast.signed(v - 50, digits) == tr.signed(v - 50, digits), (v, digits)
    for pct in (0.0, 0.07, 0.5, 0.97, 1.0):
        assert fast.percent(pct) == tr.percent(pct)
    assert fast.ngettext("%(n)s member", "%(n)s members", 1234) == tr.ngettext("%(n)s member", "%(n)s members", 1234)
