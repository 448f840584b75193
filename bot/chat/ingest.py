"""The live ingest path: every adapter hands platform events here; privacy rules decide what is kept.

Dropped before anything is stored: events in excluded channels, events by members who opted out,
and, in an opt-in community, events by members who have not joined. Links to such members
(mentions, author hints of replies and reactions) are removed from the events that are kept, so no
edge toward them is recorded either. Settings and preferences are cached per community;
`Commands` calls `invalidate` after every change.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from bot.chat.service import ScoreService
from scoring.model import CommunityRef, Event
from storage.base import ChatStore, CommunitySettings, LockStore, MemberPrefs, Store

__all__ = ["Backend", "Ingestor"]


class Backend(Store, ChatStore, LockStore, Protocol):
    """A store with the chat layer's methods and process coordination (SQLite, PostgreSQL, memory)."""


@dataclass(slots=True)
class _Policy:
    settings: CommunitySettings
    # Open mode: the hidden and opted-out members, read once; everyone else counts without a
    # lookup (a 100k-member community would otherwise read prefs for most events it sees).
    invisible: frozenset[str] | None = None
    prefs: dict[str, MemberPrefs] = field(default_factory=dict)


class Ingestor:
    """Filters events by the community's privacy rules, stores them and marks scores dirty."""

    def __init__(self, store: Backend, service: ScoreService, *, max_communities: int = 1_000,
                 max_members: int = 50_000) -> None:
        self.store = store
        self.service = service
        self.max_communities = max_communities
        self.max_members = max_members
        self._policies: OrderedDict[CommunityRef, _Policy] = OrderedDict()
        # Bumped by every invalidate: a read that was in flight across an invalidate is not cached.
        self._generation = 0
        self.dropped = 0  # events dropped by a privacy rule (for logs and tests)

    def invalidate(self, ref: CommunityRef | None = None) -> None:
        """Forget cached settings and preferences of one community (or of all)."""
        self._generation += 1
        if ref is None:
            self._policies.clear()
        else:
            self._policies.pop(ref, None)

    async def settings(self, ref: CommunityRef) -> CommunitySettings:
        """The community's settings as ingest sees them (cached; every change invalidates them)."""
        return (await self._policy(ref)).settings

    async def event(self, ev: Event) -> bool:
        """Store one live event unless a privacy rule drops it; True when it was passed on."""
        policy = await self._policy(ev.community)
        settings = policy.settings
        if ev.channel is not None and ev.channel in settings.excluded_channels:
            self.dropped += 1
            return False
        if ev.actor is not None and not await self._counts(ev.community, policy, ev.actor):
            self.dropped += 1
            return False
        ev = await self._without_excluded_links(ev, policy)
        await self.store.ingest(ev)
        self.service.mark_dirty(ev.community)
        return True

    async def _without_excluded_links(self, ev: Event, policy: _Policy) -> Event:
        changes: dict[str, object] = {}
        if ev.mentions:
            kept = tuple([m for m in ev.mentions if await self._counts(ev.community, policy, m)])
            if kept != ev.mentions:
                changes["mentions"] = kept
        for hint in ("reply_to_author", "target_author"):
            user = getattr(ev, hint)
            if user is not None and not await self._counts(ev.community, policy, user):
                changes[hint] = None
        return dataclasses.replace(ev, **changes) if changes else ev  # type: ignore[arg-type]

    async def _counts(self, ref: CommunityRef, policy: _Policy, user: str) -> bool:
        """Whether a member may be scored here: not opted out and, in opt-in mode, joined."""
        if policy.invisible is not None and user not in policy.invisible:
            return True
        prefs = policy.prefs.get(user)
        if prefs is None:
            generation = self._generation
            prefs = await self.store.member_prefs(ref, user)
            if generation == self._generation:
                if len(policy.prefs) >= self.max_members:
                    policy.prefs.clear()
                policy.prefs[user] = prefs
        if prefs.opted_out:
            return False
        return policy.settings.mode != "optin" or prefs.opted_in

    async def _policy(self, ref: CommunityRef) -> _Policy:
        policy = self._policies.get(ref)
        if policy is not None:
            self._policies.move_to_end(ref)
            return policy
        generation = self._generation
        policy = _Policy(await self.store.community_settings(ref))
        if policy.settings.mode != "optin":
            policy.invisible = frozenset(await self.store.invisible_members(ref))
        if generation != self._generation:
            return policy  # settings changed while reading: use this read once, cache the next
        self._policies[ref] = policy
        while len(self._policies) > self.max_communities:
            self._policies.popitem(last=False)
        return policy
