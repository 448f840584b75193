"""DiscordChatExporter JSON exports streamed into Events; message text is read, measured, dropped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.importers.reading import (
    FieldError,
    JsonExport,
    Progress,
    as_count,
    as_id,
    looks_like_jsonl,
    open_export,
    short,
)
from scoring.model import CommunityRef, Event, Kind

__all__ = ["USER_MESSAGE_TYPES", "read_discord"]

PLATFORM = "discord"

# Message types written by a person (or a bot answering a command). Everything else DiscordChatExporter
# writes is a system notice: pins, joins, boosts, calls, renames, thread creation (shown as "18" by
# older exporters), thread starters, which nobody authored as a response to anybody.
USER_MESSAGE_TYPES = frozenset({
    "Default", "Reply", "ChatInputCommand", "ApplicationCommand", "ContextMenuCommand",
    "0", "19", "20", "23",
})
_REPLY_TYPES = frozenset({"Reply", "19"})
# DiscordChatExporter writes "0" as the guild id of direct-message channels.
_DM_GUILD = "0"

_URL = re.compile(r"https?://", re.IGNORECASE)


def read_discord(path: Path, progress: Progress | None = None) -> Iterator[Event]:
    """Stream a DiscordChatExporter JSON export (one channel) as Events, in file order."""
    with open_export(path) as fh:
        export = JsonExport(Path(path), fh, progress)
        if looks_like_jsonl(fh):
            raise export.error("this is a JSONL events file, not a DiscordChatExporter export; "
                               "import it with the events format")
        export.read_header({"guild.id", "channel.id"}, foreign={"type"})
        community, name, channel = _community(export)
        for index, message in export.messages():
            message_id = message.get("id") if isinstance(message, dict) else None
            try:
                yield from _events(message, community, name, channel)
            except FieldError as exc:
                raise export.field_error(exc, index, message_id) from None


def _community(export: JsonExport) -> tuple[CommunityRef, str | None, str]:
    header = export.header
    if "guild.id" not in header or "channel.id" not in header or not export.has_messages:
        if {"type", "id", "messages"} <= export.top_keys and "guild" not in export.top_keys:
            raise export.error("this is a Telegram Desktop export, not a DiscordChatExporter file; "
                               "import it with the telegram format")
        raise export.error("this is not a DiscordChatExporter JSON export (it needs top-level "
                           "'guild', 'channel' and 'messages')")
    guild, channel = header["guild.id"], header["channel.id"]
    for value, label in ((guild, "guild"), (channel, "channel")):
        if not isinstance(value, str) or not value:
            raise export.error(f"the {label} 'id' is not an id: {short(value)}")
    if guild == _DM_GUILD:
        # A DM has no guild: the conversation itself is the community.
        name = header.get("channel.name")
        return CommunityRef(PLATFORM, channel), name if isinstance(name, str) else None, channel
    name = header.get("guild.name")
    return CommunityRef(PLATFORM, guild), name if isinstance(name, str) else None, channel


def _events(message: Any, community: CommunityRef, name: str | None, channel: str) -> Iterator[Event]:
    if not isinstance(message, dict):
        raise FieldError("is not a JSON object")
    kind = message.get("type")
    if kind is None:
        raise FieldError("'type' is missing")
    if str(kind) not in USER_MESSAGE_TYPES:
        return
    message_id = as_id(message.get("id"), "id")
    ts = _time(message.get("timestamp"))
    author = message.get("author")
    if not isinstance(author, dict):
        raise FieldError("'author' is missing")
    author_id = as_id(author.get("id"), "author.id")
    content = message.get("content")
    content = content if isinstance(content, str) else ""
    where: dict[str, Any] = {"community": community, "community_name": name, "channel": channel}
    yield Event(
        kind=Kind.MESSAGE, **where, ts=ts, message_id=message_id, actor=author_id,
        actor_name=_display_name(author), actor_is_bot=author.get("isBot") is True, reply_to=_reply_to(message, kind, channel), mentions=_mentions(message),
        length=len(content), has_link=bool(_URL.search(content)),
        has_attachment=bool(message.get("attachments")) or bool(message.get("stickers")),
    )
    reactions = message.get("reactions") or []
    if not isinstance(reactions, list):
        raise FieldError("'reactions' is not a list")
    for reaction in reactions:
        yield from _reaction_events(reaction, where, message_id, author_id, ts)


def _reaction_events(reaction: Any, where: dict[str, Any], message_id: str, author: str,
                     ts: datetime) -> Iterator[Event]:
    if not isinstance(reaction, dict):
        raise FieldError("a reaction is not a JSON object")
    emoji = _emoji(reaction.get("emoji"))
    users = reaction.get("users") or []
    if not isinstance(users, list):
        raise FieldError("reaction 'users' is not a list")
    named = 0
    for user in users:
        if not isinstance(user, dict) or user.get("id") in (None, ""):
            continue
        # The export has no reaction time; the message time is the closest lower bound.
        yield Event(
            kind=Kind.REACTION_ADD, **where, message_id=message_id, ts=ts,
            actor=as_id(user["id"], "reaction user id"), actor_name=_display_name(user),
            actor_is_bot=user.get("isBot") is True, target_author=author, emoji=emoji,
        )
        named += 1
    count = as_count(reaction.get("count", named), "reactions.count")
    if count > named:
        yield Event(
            kind=Kind.REACTION_COUNT, **where, message_id=message_id, ts=ts,
            target_author=author, emoji=emoji, count=count - named,
        )


def _reply_to(message: dict[str, Any], kind: object, channel: str) -> str | None:
    reference = message.get("reference")
    if not isinstance(reference, dict) or reference.get("messageId") in (None, ""):
        return None
    # Crossposts and forwards also carry a reference; only a Reply, or a reference into this very
    # channel, is an answer to someone here.
    if str(kind) in _REPLY_TYPES or reference.get("channelId") in (None, channel):
        return as_id(reference["messageId"], "reference.messageId")
    return None


def _mentions(message: dict[str, Any]) -> tuple[str, ...]:
    mentions = message.get("mentions") or []
    if not isinstance(mentions, list):
        raise FieldError("'mentions' is not a list")
    ids = [as_id(m.get("id"), "mentions.id") for m in mentions if isinstance(m, dict)]
    return tuple(dict.fromkeys(ids))


def _display_name(user: dict[str, Any]) -> str | None:
    for key in ("nickname", "name"):
        value = user.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _emoji(emoji: object) -> str:
    if not isinstance(emoji, dict):
        raise FieldError("a reaction has no 'emoji'")
    name, ident = emoji.get("name"), emoji.get("id")
    name = name if isinstance(name, str) and name else "unknown"
    # Custom emoji are told apart by id: two guilds may each have a ":lamp:".
    return f"{name}:{ident}" if ident not in (None, "") else name


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise FieldError(f"'timestamp' is not a date: {short(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(f"'timestamp' is not an ISO 8601 date: {short(value)}") from None
    if parsed.tzinfo is None:
        raise FieldError(f"'timestamp' has no UTC offset: {short(value)}")
    return parsed.astimezone(UTC)


