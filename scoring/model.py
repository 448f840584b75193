"""Event model: the platform-neutral facts Clout scores. There is no field for message text, by design."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

__all__ = ["CommunityRef", "Event", "Kind", "UserRef", "day_of", "epoch"]

SECONDS_PER_DAY = 86_400


class Kind(StrEnum):
    """What happened. Idempotency comes from each kind's natural key (see `Event.key`)."""

    MESSAGE = "message"
    REACTION_ADD = "reaction_add"
    REACTION_REMOVE = "reaction_remove"
    MESSAGE_DELETE = "message_delete"
    # Anonymous reactions: the platform tells only how many (Telegram message_reaction_count,
    # exports without reactor lists). `count` is the current number of reactions with that emoji
    # on the message whose reactors are NOT also sent as REACTION_ADD events (the anonymous
    # remainder), so named and anonymous reactions are never counted twice.
    REACTION_COUNT = "reaction_count"


@dataclass(frozen=True, slots=True)
class UserRef:
    """A person on one platform. A bare id is never a user: the platform is part of the identity."""

    platform: str
    id: str

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class CommunityRef:
    """A Discord guild or a Telegram chat (or a community from the generic JSONL format)."""

    platform: str
    id: str

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"

    @classmethod
    def parse(cls, key: str) -> CommunityRef:
        """Parse `platform:id`. Raises ValueError when there is no platform prefix."""
        platform, sep, ident = key.partition(":")
        if not sep or not platform or not ident:
            raise ValueError(f"community must look like 'platform:id', got {key!r}")
        return cls(platform, ident)

    def user(self, user_id: str) -> UserRef:
        return UserRef(self.platform, user_id)

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Event:
    """One normalized platform event.

    `actor` is the platform-local id of the author (message), the reactor (reactions) or the
    deleter (may be None for deletes and anonymous counts). `message_id` is the message that
    was created, reacted to or deleted. Links point at message ids; the store resolves them to
    the target message's author from its own log, falling back to the `*_author` hints.
    """

    kind: Kind
    community: CommunityRef
    ts: datetime
    message_id: str
    actor: str | None = None
    actor_name: str | None = None
    actor_is_bot: bool = False
    channel: str | None = None
    community_name: str | None = None
    reply_to: str | None = None
    reply_to_author: str | None = None
    target_author: str | None = None
    mentions: tuple[str, ...] = ()
    emoji: str | None = None
    count: int = 0
    length: int = 0
    has_link: bool = False
    has_attachment: bool = False

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None or self.ts.utcoffset() is None:
            raise ValueError("Event.ts must be timezone-aware")
        if self.kind in (Kind.MESSAGE, Kind.REACTION_ADD, Kind.REACTION_REMOVE) and not self.actor:
            raise ValueError(f"{self.kind} needs an actor")

    @property
    def key(self) -> tuple[str, ...]:
        """The natural key that makes ingest idempotent."""
        if self.kind in (Kind.REACTION_ADD, Kind.REACTION_REMOVE):
            return (self.community.key, self.message_id, self.actor or "", self.emoji or "")
        if self.kind is Kind.REACTION_COUNT:
            return (self.community.key, self.message_id, self.emoji or "")
        return (self.community.key, self.message_id)

    @property
    def epoch(self) -> int:
        return epoch(self.ts)

    @property
    def day(self) -> int:
        return day_of(self.epoch)


def epoch(ts: datetime) -> int:
    """Whole seconds since the Unix epoch (aware datetimes only)."""
    return int(ts.timestamp())


def day_of(epoch_seconds: int) -> int:
    """UTC day number (days since 1970-01-01) of an epoch second."""
    return epoch_seconds // SECONDS_PER_DAY


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
