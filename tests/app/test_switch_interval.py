"""A bot process favours its event loop over the refresh's worker threads (bot.chat.service.GIL_SWITCH_INTERVAL)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.chat.service import GIL_SWITCH_INTERVAL, favour_event_loop
from bot.config import Config


@pytest.fixture
def restore_switch_interval() -> Iterator[float]:
    before = sys.getswitchinterval()
    yield before
    sys.setswitchinterval(before)


async def test_app_start_sets_the_gil_switch_interval(tmp_path: Path, restore_switch_interval: float) -> None:
    sys.setswitchinterval(0.005)  # CPython's default
    app = await App.start(Config(database=str(tmp_path / "clout.db")))
    try:
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL)
        assert GIL_SWITCH_INTERVAL < 0.005
    finally:
        await app.close()


def test_favour_event_loop_takes_another_interval(restore_switch_interval: float) -> None:
    favour_event_loop(0.002)
    assert sys.getswitchinterval() == pytest.approx(0.002)
