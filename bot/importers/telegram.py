"""Telegram Desktop chat exports (result.json) streamed into Events; message text is read, measured, dropped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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

__all__ = ["chat_id", "peer_id", "read_telegram"]

PLATFORM = "telegram"

# How the Bot API numbers each chat type of a Desktop export (the export itself writes the bare id).
_USER_CHATS = {"personal_chat", "bot_chat", "saved_messages", "replies", "verification_codes"}
_BASIC_GROUPS = {"private_group"}
_CHANNELS = {"private_supergroup", "public_supergroup", "private_channel", "public_channel"}

_URL = re.compile(r"https?://", re.IGNORECASE)
_LINK_ENTITIES = {"link", "text_link"}
_ATTACHMENT_FIELDS = ("photo", "file", "media_type")
_MAX_UTC_OFFSET = timedelta(hours=14)


def chat_id(chat_type: str, raw_id: int) -> str:
    """The Bot API chat id: supergroups and channels -100<id>, basic groups -<id>, private chats <id>."""
    if raw_id < 0:  # already in Bot API form (some third-party exporters write it so)
        return str(raw_id)
    if chat_type in _CHANNELS:
        return f"-100{raw_id}"
    if chat_type in _BASIC_GROUPS:
        return f"-{raw_id}"
    return str(raw_id)


def peer_id(raw: object, name: str = "from_id") -> str:
    """Bot API id of a sender: "user123" → "123", "channel123" → "-100123", "chat123" → "-123"."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)  # exports before 2020 wrote a bare user id
    if isinstance(raw, str):
        for prefix, bot_api in (("user", ""), ("channel", "-100"), ("chat", "-")):
            if raw.startswith(prefix) and raw[len(prefix):].isdigit():
                return bot_api + raw[len(prefix):]
        if raw.isdigit():
            return raw
    if raw is None:
        raise FieldError(f"'{name}' is missing")
    raise FieldError(f"'{name}' is not a Telegram user or channel id: {short(raw)}")


def read_telegram(path: Path, progress: Progress | None = None) -> Iterator[Event]:
    """Stream a Telegram Desktop single-chat JSON export as Events, in file order."""
    with open_export(path) as fh:
        export = JsonExport(Path(path), fh, progress)
        if looks_like_jsonl(fh):
            raise export.error("this is a JSONL events file, not a Telegram Desktop export; "
                               "import it with the events format")
        export.read_header({"type", "id"}, foreign={"guild", "channel"})
        community, name = _community(export)
        for index, message in export.messages():
            message_id = message.get("id") if isinstance(message, dict) else None
            try:
                yield from _events(message, community, name)
            except FieldError as exc:
                raise export.field_error(exc, index, message_id) from None


def _community(export: JsonExport) -> tuple[CommunityRef, str | None]:
    header = export.header
    if "type" not in header or "id" not in header or not export.has_messages:
        if "guild" in export.top_keys:
            raise export.error("this is a DiscordChatExporter file, not a Telegram Desktop export; "
                               "import it with the discord format")
        if "chats" in export.top_keys:
            raise export.error("this is a whole-account Telegram export; export a single chat "
                               "(chat menu → Export chat history, JSON) and import that")
        raise export.error("this is not a Telegram Desktop chat export (it needs top-level "
                           "'type', 'id' and 'messages')")
    chat_type, raw_id = header["type"], header["id"]
    if not isinstance(raw_id, int) or isinstance(raw_id, bool):
        raise export.error(f"the chat 'id' is not a number: {short(raw_id)}")
    if chat_type not in _USER_CHATS | _BASIC_GROUPS | _CHANNELS:
        raise export.error(f"unknown Telegram chat type {short(chat_type)}")
    name = header.get("name")
    return CommunityRef(PLATFORM, chat_id(chat_type, raw_id)), name if isinstance(name, str) else None


def _events(message: Any, community: CommunityRef, name: str | None) -> Iterator[Event]:
    if not isinstance(message, dict):
        raise FieldError("is not a JSON object")
    kind = message.get("type")
    if kind is None:
        raise FieldError("'type' is missing")
    if kind != "message":  # "service": joins, pins, title changes — nobody's response to anybody
        return
    message_id = as_id(message.get("id"), "id")
    ts, offset = _message_time(message)
    author = peer_id(message.get("from_id"))
    actor_name = message.get("from") if isinstance(message.get("from"), str) else None
    channel = _optional_id(message.get("topic_id"), "topic_id")
    # A reply to a message of another chat (reply_to_peer_id) is no link inside this community.
    reply_to = None
    if message.get("reply_to_peer_id") is None:
        reply_to = _optional_id(message.get("reply_to_message_id"), "reply_to_message_id")
    length, has_link, mentions = _text_features(message)
    where: dict[str, Any] = {"community": community, "community_name": name, "channel": channel}
    yield Event(
        kind=Kind.MESSAGE, **where, ts=ts, message_id=message_id, actor=author,
        actor_name=actor_name, reply_to=reply_to,
        mentions=mentions, length=length, has_link=has_link,
        has_attachment=any(key in message for key in _ATTACHMENT_FIELDS),
    )
    reactions = message.get("reactions") or []
    if not isinstance(reactions, list):
        raise FieldError("'reactions' is not a list")
    for reaction in reactions:
        yield from _reaction_events(reaction, where, message_id, author, ts, offset)


def _reaction_events(reaction: Any, where: dict[str, Any], message_id: str, author: str,
                     message_ts: datetime, offset: timedelta) -> Iterator[Event]:
    if not isinstance(reaction, dict):
        raise FieldError("a reaction is not a JSON object")
    emoji = _emoji(reaction)
    named = 0
    for reactor in reaction.get("recent") or []:
        if not isinstance(reactor, dict) or reactor.get("from_id") is None:
            continue  # counted in the anonymous remainder below
        actor_name = reactor.get("from")
        yield Event(
            kind=Kind.REACTION_ADD, **where, message_id=message_id,
            ts=_reaction_time(reactor, offset, message_ts), actor=peer_id(reactor["from_id"], "recent.from_id"),
            actor_name=actor_name if isinstance(actor_name, str) else None, target_author=author, emoji=emoji,
        )
        named += 1
    count = as_count(reaction.get("count", named), "reactions.count")
    if count > named:
        yield Event(
            kind=Kind.REACTION_COUNT, **where, message_id=message_id,
            ts=message_ts, target_author=author, emoji=emoji, count=count - named,
        )


def _emoji(reaction: dict[str, Any]) -> str:
    emoji = reaction.get("emoji")
    if isinstance(emoji, str) and emoji:
        return emoji
    document = reaction.get("document_id")
    if isinstance(document, (str, int)) and str(document).isdigit():
        return f"custom:{document}"
    kind = reaction.get("type")
    if kind == "custom_emoji":
        return "custom"
    return kind if isinstance(kind, str) and kind else "unknown"


def _text_features(message: dict[str, Any]) -> tuple[int, bool, tuple[str, ...]]:
    """Length in characters, whether it links, and who it mentions; the text itself goes no further."""
    entities = message.get("text_entities")
    if not isinstance(entities, list) or not entities:
        text = message.get("text")
        entities = text if isinstance(text, list) else [text]
    length, has_link, mentions = 0, False, []
    for entity in entities:
        if isinstance(entity, str):
            length += len(entity)
            has_link = has_link or bool(_URL.search(entity))
            continue
        if not isinstance(entity, dict):
            continue
        text = entity.get("text")
        text = text if isinstance(text, str) else ""
        length += len(text)
        kind = entity.get("type")
        has_link = has_link or kind in _LINK_ENTITIES or bool(_URL.search(text))
        if kind == "mention" and len(text) > 1:
            mentions.append("@" + text.lstrip("@").lower())
        elif kind == "mention_name":
            mentions.append(as_id(entity.get("user_id"), "mention_name.user_id"))
    return length, has_link, tuple(dict.fromkeys(mentions))


def _message_time(message: dict[str, Any]) -> tuple[datetime, timedelta]:
    """UTC time of a message, and the exporting machine's UTC offset that `date` fields carry."""
    unixtime = message.get("date_unixtime")
    if unixtime is None:
        if "date" not in message:
            raise FieldError("'date_unixtime' and 'date' are both missing")
        # Exports older than date_unixtime hold only local time; UTC is the least-wrong guess.
        return _naive(message["date"], "date").replace(tzinfo=UTC), timedelta(0)
    try:
        ts = datetime.fromtimestamp(int(unixtime), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise FieldError(f"'date_unixtime' is not a Unix time: {short(unixtime)}") from None
    try:
        offset = _naive(message.get("date"), "date") - ts.replace(tzinfo=None)
    except FieldError:
        return ts, timedelta(0)  # the local date only serves to place reactions; UTC will do
    return ts, offset if abs(offset) <= _MAX_UTC_OFFSET else timedelta(0)


def _reaction_time(reactor: dict[str, Any], offset: timedelta, message_ts: datetime) -> datetime:
    if reactor.get("date_unixtime") is not None:
        ts, _ = _message_time(reactor)
    elif reactor.get("date") is not None:
        # `recent[].date` is local time only: shift it by the offset its message showed.
        ts = (_naive(reactor["date"], "recent.date") - offset).replace(tzinfo=UTC)
    else:
        return message_ts
    # A reaction cannot precede its message; a DST change between the two can make it look so.
    return max(ts, message_ts)


def _naive(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise FieldError(f"'{name}' is not a date: {short(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(f"'{name}' is not a date: {short(value)}") from None
    return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)




def _optional_id(value: object, name: str) -> str | None:
    return None if value is None else as_id(value, name)
