"""Several bot processes on one PostgreSQL database (issue #7): two real `clout run --headless`
processes (tests/app/multi_child.py), each owning half of four Discord shards of the loopback fake
Discord, share the CLOUT_TEST_POSTGRES server. Exactly one leads; SIGKILL of the leader while its
weekly digest is in flight hands the scheduler to the other, which resends the claimed digest with
its nonce so Discord keeps one message; refreshes of one community never overlap across processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from scoring.model import CommunityRef, Event, Kind
from storage.base import CommunitySettings
from storage.postgres import PostgresStore
from tests.discord.conftest import GENERAL, GUILD, guilds, within
from tests.discord.fake import FakeDiscord
from tests.postgres import fresh_schema, require_postgres

ROOT = Path(__file__).resolve().parents[2]
REF = CommunityRef("discord", str(GUILD))
POLL = 0.3  # CLOUT_LEADER_POLL of both processes
DEADLINE = 60.0  # a guard against hangs, never a wait


class NonceDiscord(FakeDiscord):
    """The fake Discord plus two behaviours of the real one this test needs: a message sent with
    `enforce_nonce` and a nonce already used in the channel returns the existing message instead of
    creating another, and the response to the first post in `hold_channel` never comes back (the
    message exists; the sender stays waiting, as if the connection stalled)."""

    def __init__(self, guild_list: list[Any], hold_channel: int) -> None:
        super().__init__(guild_list, shards=4)
        self.hold_channel = hold_channel
        self.release = asyncio.Event()
        self.created: dict[tuple[int, str], dict[str, Any]] = {}  # (channel, nonce) -> message
        self.posts: list[tuple[int, str | None]] = []             # every post: (channel, nonce)
        self.post_seen = asyncio.Event()

    def _message(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        nonce = body.get("nonce")
        self.posts.append((channel_id, nonce))
        self.post_seen.set()
        key = (channel_id, str(nonce))
        if nonce is not None and body.get("enforce_nonce") and key in self.created:
            return self.created[key]
        message = super()._message(channel_id, body)
        self.created[key] = message
        return message

    async def _rest(self, request: web.Request) -> web.Response:
        response = await super()._rest(request)
        if request.method == "POST" and request.path.endswith(f"/channels/{self.hold_channel}/messages") \
                and len([p for p in self.posts if p[0] == self.hold_channel]) == 1:
            await self.release.wait()
        return response


@dataclass
class Child:
    """A child process and the lines it printed (stdout and stderr together)."""

    name: str
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self.changed.set()
        self.changed.set()

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait (on new output, never on a clock) until the predicate holds; fail after DEADLINE."""
        loop = asyncio.get_running_loop()
        end = loop.time() + DEADLINE
        while not predicate():
            if self.proc.returncode is not None and self.reader is not None and self.reader.done():
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before {what}:\n" + self.output())
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.01, end - loop.time()))
            except TimeoutError:
                raise AssertionError(f"{self.name}: no {what} within {DEADLINE} s:\n" + self.output()) from None

    def output(self) -> str:
        return "\n".join(self.lines[-60:])


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


async def _seed(url: str, schema: str) -> None:
    """A community with a week of replies and its digest channel set: its weekly run is due now."""
    now = datetime.now(UTC)
    events = []
    people = ["1001", "1002", "1003", "1004", "1005"]
    for day in range(1, 8):
        for i, author in enumerate(people):
            mid = f"{day}{i}"
            at = now - timedelta(days=day, minutes=i * 5)
            events.append(Event(Kind.MESSAGE, REF, at, mid, actor=author, actor_name=f"user{author}",
                                channel=str(GENERAL), community_name="Test Server",
                                reply_to=f"{day}{i - 1}" if i else None))
    async with PostgresStore(url, schema=schema) as store:
        await store.import_events(events)
        await store.set_community_settings(REF, CommunitySettings(summary_channel=str(GENERAL)))


async def _spawn(name: str, fake: FakeDiscord, url: str, shard_ids: str, tmp: Path) -> Child:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUT_")}
    env.update(CLOUT_DATABASE=url, CLOUT_DISCORD_TOKEN="fake-token-for-the-loopback-discord",
               CLOUT_DISCORD_SHARDS="4", CLOUT_DISCORD_SHARD_IDS=shard_ids, CLOUT_LEADER_POLL=str(POLL),
               CLOUT_REFRESH_INTERVAL="0", CLOUT_LOG_LEVEL="INFO", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.app.multi_child", fake.api_base, fake.gateway_url, REF.key,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp, env=env)
    child = Child(name, proc)
    child.reader = asyncio.create_task(child.read())
    return child


def _spans(children: list[Child]) -> list[tuple[float, float, str]]:
    spans = []
    for child in children:
        for line in child.lines:
            if line.startswith("span "):
                _, pid, start, end = line.split()
                spans.append((float(start), float(end), pid))
    return sorted(spans)


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, str]]:
    url = require_postgres()
    async with fresh_schema(url) as schema:
        await _seed(url, schema)
        yield url, schema


@pytest.fixture
async def fake() -> AsyncIterator[NonceDiscord]:
    server = NonceDiscord(guilds(), hold_channel=GENERAL)
    await server.start()
    yield server
    server.release.set()
    await server.stop()


async def test_two_processes_one_leader_takeover_after_sigkill_and_no_overlapping_refreshes(
        database: tuple[str, str], fake: NonceDiscord, tmp_path: Path) -> None:
    url, schema = database
    children = [await _spawn("low shards", fake, _with_schema(url, schema), "0-1", tmp_path),
                await _spawn("high shards", fake, _with_schema(url, schema), "2-3", tmp_path)]
    try:
        # Both run and have taken their role; exactly one leads.
        for child in children:
            await child.until(lambda c=child: c.has("hammer ready") and (c.has("is the leader") or c.has("follows")),
                              "role and readiness")
        leaders = [c for c in children if c.has("is the leader")]
        assert len(leaders) == 1, [c.output() for c in children]
        leader, follower = leaders[0], next(c for c in children if c is not leaders[0])
        assert follower.has("follows")

        # Both hammer one community's refresh at once: the advisory lock lets one through at a time.
        for child in children:
            assert child.proc.stdin is not None
            child.proc.stdin.write(b"go\n")
            await child.proc.stdin.drain()
        for child in children:
            await child.until(lambda c=child: c.has("hammer done"), "end of the refresh hammer")
        spans = _spans(children)
        assert {pid for _, _, pid in spans} == {str(c.proc.pid) for c in children}
        for (_, end, pid), (start, _, other) in zip(spans, spans[1:], strict=False):
            assert end <= start, f"refresh spans overlap: {pid} until {end}, {other} from {start}"
        skipped = sum(int(line.split()[3]) for c in children for line in c.lines if line.startswith("hammer done"))
        assert skipped >= 1  # they did contend

        # The leader's digest reached Discord but its answer is held: the outbox row stays claimed.
        await within(fake.post_seen.wait(), DEADLINE)
        async with PostgresStore(url, schema=schema) as store:
            (run,) = await store.summary_runs(REF)
            assert [i.state for i in await store.outbox_items(REF, run.week)] == ["claimed"]

        # SIGKILL the leader: the follower takes over within a few poll intervals and finishes the
        # week by resending the claimed digest with its nonce; Discord keeps one message.
        killed_at = time.monotonic()
        leader.proc.send_signal(signal.SIGKILL)
        await leader.proc.wait()
        await follower.until(lambda: follower.has("is the leader"), "takeover")
        takeover = time.monotonic() - killed_at
        await follower.until(lambda: follower.has(f"weekly summaries of {REF.key} for {run.week}: {{'sent': 1}}"),
                             "the resumed weekly run")
        digest_posts = [nonce for channel, nonce in fake.posts if channel == GENERAL]
        assert len(digest_posts) == 2 and digest_posts[0] == digest_posts[1] is not None
        assert len([key for key in fake.created if key[0] == GENERAL]) == 1
        async with PostgresStore(url, schema=schema) as store:
            (after,) = await store.summary_runs(REF)
            assert after.completed is not None
            assert [(i.state, i.attempts) for i in await store.outbox_items(REF, run.week)] == [("sent", 2)]
        assert takeover < 30 * POLL, f"takeover took {takeover:.2f} s"

        # Each process identified its own shards of four.
        assert sorted(fake.identified) == [(0, 4), (1, 4), (2, 4), (3, 4)]

        # SIGTERM stops the survivor cleanly.
        follower.proc.send_signal(signal.SIGTERM)
        assert await within(follower.proc.wait(), DEADLINE) == 0
        assert follower.has("stopped; pending events flushed")
    finally:
        for child in children:
            if child.proc.returncode is None:
                child.proc.kill()
                await child.proc.wait()
            if child.reader is not None:
                await child.reader
