"""Leader election (bot.leader) on the real stores, the app's scheduler following leadership, the
headless `clout run`, SQLite's one-bot-process-per-file rule and the new settings."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from bot.app import App
from bot.config import Config, ConfigError, load_config
from bot.leader import Leadership
from storage.base import LockStore
from storage.memory import MemoryStore
from storage.postgres import PostgresStore
from tests.postgres import fresh_schema, require_postgres

CLOUT = str(Path(sys.executable).with_name("clout"))
GUARD = 30.0  # wait_for guard against hangs


class Calls:
    """Callbacks for Leadership that record and signal gains and losses."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.gained = asyncio.Event()
        self.lost = asyncio.Event()

    async def gain(self) -> None:
        self.events.append("gain")
        self.gained.set()

    async def loss(self) -> None:
        self.events.append("loss")
        self.lost.set()

    def leadership(self, store: LockStore, poll: float = 0.05) -> Leadership:
        return Leadership(store, poll=poll, on_gain=self.gain, on_loss=self.loss)


@pytest.fixture
async def schema_url() -> AsyncIterator[tuple[str, str]]:
    url = require_postgres()
    async with fresh_schema(url) as schema:
        yield url, schema


@asynccontextmanager
async def two_processes(url: str, schema: str) -> AsyncIterator[tuple[PostgresStore, list[Calls], list[Leadership]]]:
    """Two stores on one schema (as two processes would have), each with a started Leadership;
    the first started leads."""
    calls = [Calls(), Calls()]
    async with PostgresStore(url, schema=schema) as a, PostgresStore(url, schema=schema) as b:
        leaders = [calls[0].leadership(a), calls[1].leadership(b)]
        for leadership in leaders:
            await leadership.start()
        try:
            assert leaders[0].leading and not leaders[1].leading
            yield a, calls, leaders
        finally:
            for leadership in leaders:
                await leadership.stop()


async def _kill_lock_session(url: str, store: PostgresStore) -> None:
    assert store._locks is not None and store._locks._conn is not None
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", store._locks._conn.get_server_pid())
    finally:
        await conn.close()


async def test_leader_memory_store_always_leads() -> None:
    calls = Calls()
    async with MemoryStore() as store:
        leadership = calls.leadership(store)
        await leadership.start()
        assert leadership.leading and calls.events == ["gain"]
        await leadership.step()  # the check passes: nothing changes
        await leadership.stop()
        assert not leadership.leading and calls.events == ["gain"]


async def test_leader_postgres_follower_takes_over_when_the_leader_session_dies(schema_url: tuple[str, str]) -> None:
    async with two_processes(*schema_url) as (a, (first, second), (la, lb)):
        await _kill_lock_session(schema_url[0], a)
        await asyncio.wait_for(second.gained.wait(), GUARD)  # b's polling loop took over
        assert lb.leading
        await asyncio.wait_for(first.lost.wait(), GUARD)  # a's check found its lock gone
        assert not la.leading and first.events == ["gain", "loss"]


async def test_leader_stop_releases_leadership_to_the_follower(schema_url: tuple[str, str]) -> None:
    async with two_processes(*schema_url) as (_a, (first, second), (la, lb)):
        await la.stop()
        await asyncio.wait_for(second.gained.wait(), GUARD)
        assert lb.leading and first.events == ["gain"]  # a graceful stop is not a loss


async def test_leader_app_aborts_its_scheduler_when_leadership_is_lost(schema_url: tuple[str, str]) -> None:
    url, schema = schema_url
    config = Config(database=f"{url}{'&' if '?' in url else '?'}search_path={schema}", refresh_interval=0.0,
                    leader_poll=60.0)
    app = await App.start(config)
    try:
        await app.lead()
        scheduler = app.scheduler
        assert app.leadership is not None and app.leadership.leading and scheduler is not None
        assert scheduler.scheduler.running and scheduler.ensure in app.service.listeners
        assert isinstance(app.store, PostgresStore)
        await _kill_lock_session(url, app.store)
        await app.leadership.step()  # the next check (poll is long: run it now)
        assert app.scheduler is None and not app.leadership.leading
        assert scheduler.runner.stopping.is_set()
        assert scheduler.ensure not in app.service.listeners
        await app.leadership.step()  # the lock is free again: this process takes it back
        assert app.leadership.leading and app.scheduler is not None and app.scheduler is not scheduler
    finally:
        await app.stop_leading()
        await app.close()


def test_leader_config_poll_and_headless() -> None:
    config = load_config({"CLOUT_LEADER_POLL": "2.5", "CLOUT_HEADLESS": "yes"}, path=None)
    assert config.leader_poll == 2.5 and config.headless is True
    assert load_config({}, path=None).leader_poll == 10.0
    for bad in ("soon", "0", "120"):
        with pytest.raises(ConfigError, match="leader_poll .CLOUT_LEADER_POLL. must be a number of seconds"):
            load_config({"CLOUT_LEADER_POLL": bad}, path=None)
    with pytest.raises(ConfigError, match="headless .CLOUT_HEADLESS. must be on or off"):
        load_config({"CLOUT_HEADLESS": "maybe"}, path=None)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUT_")}
    env.update(CLOUT_LOG_LEVEL="INFO", CLOUT_REFRESH_INTERVAL="0", PYTHONUNBUFFERED="1")
    return env


def test_leader_sqlite_second_headless_run_is_refused_and_sigterm_stops_the_first(tmp_path: Path) -> None:
    db = tmp_path / "clout.db"
    first = subprocess.Popen([CLOUT, "run", "--headless", "--db", str(db)], cwd=tmp_path, env=_env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert first.stdout is not None
        seen = []
        for line in first.stdout:  # read the log pipe until the process runs (EOF ends it too)
            seen.append(line)
            if "running headless" in line:
                break
        assert any("running headless" in line for line in seen), "".join(seen)
        assert not any("leader: pid" in line for line in seen)  # no chat adapter: it never leads
        second = subprocess.run([CLOUT, "run", "--headless", "--db", str(db)], cwd=tmp_path, env=_env(),
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=GUARD)
        assert second.returncode == 2
        assert second.stderr == (f"Error: Another Clout process is already running on {db}; SQLite allows one bot "
                                 "process per database (use PostgreSQL to run several).\n")
        first.send_signal(signal.SIGTERM)
        rest, _ = first.communicate(timeout=GUARD)
        assert first.returncode == 0
        assert "stopped; pending events flushed" in rest and "Traceback" not in rest
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


class _Stalled:
    """A deliverer whose post never returns (the send is in flight when leadership is lost)."""

    platform = "console"
    resend_with_nonce = False

    def __init__(self) -> None:
        self.inside = asyncio.Event()

    async def post(self, community: object, channel: str, reply: object, *, nonce: str | None = None) -> None:
        self.inside.set()
        await asyncio.Event().wait()

    async def dm(self, user: str, reply: object, *, nonce: str | None = None) -> None:
        await self.post(None, user, reply, nonce=nonce)


async def test_leader_abort_cancels_the_run_in_flight_and_leaves_its_claim_to_the_next_leader(tmp_path: Path) -> None:
    from bot.summary.scheduler import SummaryScheduler
    from storage.base import CommunitySettings
    from storage.sqlite import SqliteStore
    from tests.chat.conftest import REF, seed_events
    from tests.summary.conftest import WEEK, Clock, make_runner

    async with SqliteStore(tmp_path / "abort.db") as store:
        await store.import_events(seed_events(REF))
        await store.set_community_settings(REF, CommunitySettings(summary_channel="general"))
        stalled = _Stalled()
        scheduler = SummaryScheduler(store, make_runner(store, stalled, Clock()), clock=Clock())
        await scheduler.start()  # the catch-up runs the due week in the background
        await asyncio.wait_for(stalled.inside.wait(), GUARD)
        await scheduler.abort()
        assert scheduler.runner.stopping.is_set() and not scheduler.scheduler.running
        assert scheduler.caught_up.is_set()  # the catch-up task ended (cancelled)
        assert [(i.kind, i.state) for i in await store.outbox_items(REF, WEEK)] == [("digest", "claimed")]
        (run,) = await store.summary_runs(REF)
        assert run.completed is None  # resumed by the next leader, whose crash policy resolves the claim
