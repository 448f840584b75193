"""`clout demo`: a realistic synthetic community, imported and scored, ready for the console."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.importers.jsonl import records_to_events
from bot.synthetic import community_records
from scoring.model import CommunityRef
from storage.base import Store

__all__ = ["DEMO_COMMUNITY", "build_demo"]

DEMO_COMMUNITY = CommunityRef("events", "demo")


async def build_demo(store: Store, now: datetime, *, members: int = 60, messages: int = 3_000,
                     weeks: int = 12, seed: int = 1) -> CommunityRef:
    """Import a synthetic community whose activity ends at `now` (so scores are current)."""
    start = now - timedelta(weeks=weeks)
    records = community_records(members=members, messages=messages, days=weeks * 7, start=start,
                                community=DEMO_COMMUNITY.id, seed=seed)
    # Reactions may fall a little after the last message; never in the future.
    await store.import_events(ev for ev in records_to_events(records, source="demo") if ev.ts <= now)
    return DEMO_COMMUNITY
