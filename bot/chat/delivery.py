"""What every platform adapter offers the rest of the bot: delivery of replies it did not ask for.

The scheduler (weekly digests and personal summaries) and one-off notices use these hooks; commands
answer through the adapter's own request/response path instead. An adapter implements `Adapter`
(start/stop within the app's event loop) and `Deliverer` (post to a channel, DM a member).

Errors are classified so callers can decide without knowing the platform:

- `Unreachable`: the member cannot be sent a DM (Discord 50007, Telegram 403 "blocked"/"not
  started"). Permanent: do not retry; the scheduler turns that member's personal summaries off.
- `DestinationGone`: the channel or group no longer exists or the bot was removed from it. Permanent
  for this destination; the caller skips it and tells the admins at the next chance.
- `DeliveryFailed`: anything else after the adapter's own retries (network, 5xx). May be retried later.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.chat.reply import Reply
from scoring.model import CommunityRef

__all__ = ["Adapter", "DeliveryError", "DeliveryFailed", "Deliverer", "DestinationGone", "Unreachable"]


class DeliveryError(Exception):
    """Base class of delivery failures. `code` is the platform's error code when there is one."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class Unreachable(DeliveryError):
    """The member does not accept DMs from the bot (blocked, never started, DMs closed)."""


class DestinationGone(DeliveryError):
    """The channel or group is gone, or the bot may no longer post there."""


class DeliveryFailed(DeliveryError):
    """A transient failure that survived the adapter's retries."""


@runtime_checkable
class Deliverer(Protocol):
    """Send a neutral `Reply` somewhere. `nonce` makes a resend recognisable where the platform allows."""

    platform: str

    async def post(self, community: CommunityRef, channel: str, reply: Reply, *, nonce: str | None = None) -> None:
        """Post to a channel (Discord channel id / Telegram chat id, with topic as `chat:topic`)."""
        ...

    async def dm(self, user: str, reply: Reply, *, nonce: str | None = None) -> None:
        """Send a direct message to a member (the platform's user id, without the platform prefix)."""
        ...


@runtime_checkable
class Adapter(Deliverer, Protocol):
    """A platform connection owned by the app: started and stopped inside the running event loop."""

    async def start(self) -> None:
        """Connect and begin receiving events; return once running (do not block until stopped)."""
        ...

    async def stop(self) -> None:
        """Disconnect; pending events have been handed to the ingestor when this returns."""
        ...
