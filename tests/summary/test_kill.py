"""SIGKILL in the middle of a fan-out, then a restart: every member ends up with exactly one summary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from storage.base import MemberPrefs
from storage.sqlite import SqliteStore
from tests.chat.conftest import IDS, REF
from tests.summary.conftest import WEEK

ROOT = Path(__file__).resolve().parents[2]


def _child(db: Path, out: Path, pause_after: int, resend: bool) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.summary.fanout_child", str(db), str(out),
                             str(pause_after), "1" if resend else "0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("resend", [True, False], ids=["resend-with-nonce", "at-most-once"])
async def test_summary_sigkill_mid_fanout_then_restart_delivers_each_member_once(
        store: SqliteStore, tmp_path: Path, resend: bool) -> None:
    for user in IDS:  # all 24 members subscribe
        await store.set_member_prefs(REF, user, MemberPrefs(weekly=True))
    await store.close()  # the children own the database now
    db, out = Path(store.path), tmp_path / "delivered.tsv"

    child = _child(db, out, pause_after=10, resend=resend)
    assert child.stdout is not None
    lines = []
    for line in child.stdout:  # blocks on the child's output: no sleeping
        lines.append(line.strip())
        if line.strip() == "paused":
            break
    assert lines[-1] == "paused", child.stderr.read() if child.stderr else ""
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL

    async with SqliteStore(db) as s:
        states = defaultdict(int)
        for item in await s.outbox_items(REF, WEEK):
            states[item.state] += 1
        assert states["claimed"] == 1 and states["sent"] == 10  # the digest and 9 DMs; the 10th was in flight
        assert (await s.summary_runs(REF))[0].completed is None

    restart = _child(db, out, pause_after=0, resend=resend)
    stdout, stderr = restart.communicate(timeout=120)
    assert restart.returncode == 0, stderr
    assert "done True" in stdout

    received: dict[str, list[str]] = defaultdict(list)
    for row in out.read_text(encoding="utf-8").splitlines():
        nonce, who = row.split("\t")
        received[who].append(nonce)
    members = {who: nonces for who, nonces in received.items() if not who.startswith("#")}
    assert set(members) == set(IDS)
    # What the member sees: one summary each (the platform drops a resend carrying a known nonce).
    assert all(len(set(nonces)) == 1 for nonces in members.values())
    resent = [who for who, nonces in members.items() if len(nonces) > 1]
    if resend:
        assert len(resent) == 1 and len(members[resent[0]]) == 2  # the in-flight one, same nonce twice
    else:
        assert resent == []  # at most once: the in-flight one is not sent again
    assert received["#general"] and len(received["#general"]) == 1
    async with SqliteStore(db) as s:
        final = {item.state for item in await s.outbox_items(REF, WEEK)}
        assert final == ({"sent"} if resend else {"sent", "uncertain"})
        assert (await s.summary_runs(REF))[0].completed is not None
