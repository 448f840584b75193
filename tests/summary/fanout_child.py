"""A weekly fan-out in a process of its own, for the SIGKILL test (python -m tests.summary.fanout_child).

Arguments: DB OUT PAUSE_AFTER RESEND. Delivers the seeded community's week through the real runner
and outbox; every DM is appended to OUT as "nonce<TAB>user" (flushed and fsynced: the receiving
side), and after PAUSE_AFTER DMs the deliverer announces "paused" on stdout and waits forever
*inside* the send (the row stays claimed), so the parent can SIGKILL it at the worst moment.
PAUSE_AFTER 0 never pauses. RESEND 1 makes the deliverer resend stale claims with their nonce.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.chat.reply import Reply
from scoring.model import CommunityRef
from storage.sqlite import SqliteStore
from tests.chat.conftest import REF
from tests.summary.conftest import SCHEDULED, make_runner


class FileDeliverer:
    platform = "console"

    def __init__(self, out: Path, pause_after: int, resend: bool) -> None:
        self.out = out
        self.pause_after = pause_after
        self.resend_with_nonce = resend
        self.count = 0

    async def post(self, community: CommunityRef, channel: str, reply: Reply, *, nonce: str | None = None) -> None:
        self._record(nonce, f"#{channel}")

    async def dm(self, user: str, reply: Reply, *, nonce: str | None = None) -> None:
        self._record(nonce, user)
        self.count += 1
        if self.count == self.pause_after:
            print("paused", flush=True)
            await asyncio.Event().wait()  # until SIGKILL

    def _record(self, nonce: str | None, who: str) -> None:
        with self.out.open("a", encoding="utf-8") as f:
            f.write(f"{nonce}\t{who}\n")
            f.flush()
            os.fsync(f.fileno())
        print(f"sent {who}", flush=True)


async def main(db: str, out: str, pause_after: int, resend: bool) -> None:
    async with SqliteStore(db) as store:
        runner = make_runner(store, FileDeliverer(Path(out), pause_after, resend))
        report = await runner.run_week(REF, SCHEDULED)
    print(f"done {report.completed} {sorted(report.states.items())}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"))
