"""Event factories for tests: short calls that build `scoring.model.Event` with sensible defaults.

Times are offsets in seconds (or a timedelta) from an injected base time, so tests never read the
clock. Use the module-level helpers for the default community and base, or an `EventFactory` for
another community or base:

    f = EventFactory(base=datetime(2026, 3, 1, tzinfo=UTC), community=CommunityRef("discord", "g1"))
    events = [f.msg("m1", "alice", 0), f.reply("m2", "bob", "m1", 30), f.react("m1", "carol", 60)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scoring.model import CommunityRef, Event, Kind

__all__ = [
    "BASE",
    "COMMUNITY",
    "EventFactory",
    "anon",
    "at",
    "conversation",
    "delete",
    "mention",
    "msg",
    "react",
    "reply",
    "unreact",
]

BASE = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, 00:00 UTC: day boundaries are easy to reason about
COMMUNITY = CommunityRef("test", "c1")

Offset = float | timedelta | datetime


@dataclass(frozen=True, slots=True)
class EventFactory:
    """Builds events for one community, with times relative to `base`."""

    base: datetime = BASE
    community: CommunityRef = COMMUNITY
    emoji: str = "👍"

    def at(self, when: Offset = 0) -> datetime:
        """An absolute time: seconds or a timedelta after `base`, or a datetime as is."""
        if isinstance(when, datetime):
            return when
        if isinstance(when, timedelta):
            return self.base + when
        return self.base + timedelta(seconds=when)

    def msg(self, mid: str, author: str, when: Offset = 0, *, reply_to: str | None = None,
            reply_to_author: str | None = None, mentions: Iterable[str] = (), bot: bool = False,
            name: str | None = None, channel: str | None = "general", length: int = 10,
            has_link: bool = False, has_attachment: bool = False,
            community_name: str | None = None) -> Event:
        """A message by `author` (display name defaults to the id, capitalised)."""
        return Event(kind=Kind.MESSAGE, community=self.community, ts=self.at(when), message_id=mid,
                     actor=author, actor_name=name if name is not None else author.capitalize(),
                     actor_is_bot=bot, channel=channel, community_name=community_name, reply_to=reply_to,
                     reply_to_author=reply_to_author, mentions=tuple(mentions), length=length,
                     has_link=has_link, has_attachment=has_attachment)

    def reply(self, mid: str, author: str, to: str, when: Offset = 0, *, to_author: str | None = None,
              **kw: object) -> Event:
        """A message replying to message `to` (optionally with the target author hint)."""
        return self.msg(mid, author, when, reply_to=to, reply_to_author=to_author, **kw)  # type: ignore[arg-type]

    def mention(self, mid: str, author: str, *users: str, when: Offset = 0, **kw: object) -> Event:
        """A message mentioning `users`."""
        return self.msg(mid, author, when, mentions=users, **kw)  # type: ignore[arg-type]

    def react(self, mid: str, actor: str, when: Offset = 0, *, emoji: str | None = None,
              target_author: str | None = None, bot: bool = False, name: str | None = None) -> Event:
        """`actor` adds a named reaction to message `mid`."""
        return Event(kind=Kind.REACTION_ADD, community=self.community, ts=self.at(when), message_id=mid,
                     actor=actor, actor_name=name if name is not None else actor.capitalize(),
                     actor_is_bot=bot, emoji=emoji or self.emoji, target_author=target_author)

    def unreact(self, mid: str, actor: str, when: Offset = 0, *, emoji: str | None = None,
                target_author: str | None = None, bot: bool = False) -> Event:
        """`actor` removes their reaction from message `mid`."""
        return Event(kind=Kind.REACTION_REMOVE, community=self.community, ts=self.at(when), message_id=mid,
                     actor=actor, actor_is_bot=bot, emoji=emoji or self.emoji, target_author=target_author)

    def anon(self, mid: str, count: int, when: Offset = 0, *, emoji: str | None = None) -> Event:
        """An anonymous reaction total for (message, emoji), as Telegram's message_reaction_count."""
        return Event(kind=Kind.REACTION_COUNT, community=self.community, ts=self.at(when), message_id=mid,
                     emoji=emoji or self.emoji, count=count)

    def delete(self, mid: str, when: Offset = 0, *, actor: str | None = None) -> Event:
        """Message `mid` was deleted."""
        return Event(kind=Kind.MESSAGE_DELETE, community=self.community, ts=self.at(when), message_id=mid,
                     actor=actor)

    def conversation(self, *pairs: tuple[str, str], start: Offset = 0, gap: float = 120) -> list[Event]:
        """Messages (mid, author) `gap` seconds apart, each replying to the previous one."""
        out: list[Event] = []
        t0 = self.at(start)
        for i, (mid, author) in enumerate(pairs):
            prev = out[-1].message_id if out else None
            out.append(self.msg(mid, author, t0 + timedelta(seconds=i * gap), reply_to=prev))
        return out


_DEFAULT = EventFactory()

at = _DEFAULT.at
msg = _DEFAULT.msg
reply = _DEFAULT.reply
mention = _DEFAULT.mention
react = _DEFAULT.react
unreact = _DEFAULT.unreact
anon = _DEFAULT.anon
delete = _DEFAULT.delete
conversation = _DEFAULT.conversation
