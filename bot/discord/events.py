"""Gateway objects to Clout Events: messages, replies, mentions, raw reactions and deletes.

A thread or forum post counts in its parent channel: `Event.channel` is the parent's id, so an
excluded channel (`/settings exclude`) also excludes every thread under it, and summaries name the
channel people know. Bots and webhooks are ignored; system messages (joins, pins, boosts) are not
responses to anyone. Message text is only measured (length, has a link), never kept; without the
Message Content intent Discord sends it empty anyway.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import discord

from scoring.model import CommunityRef, Event, Kind

__all__ = ["PLATFORM", "channel_key", "community_of", "delete_event", "emoji_key", "message_event",
           "raw_message_event", "reaction_event"]

PLATFORM = "discord"
_USER_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
_RAW_USER_TYPES = frozenset(t.value for t in _USER_TYPES)
_FORWARD = discord.MessageReferenceType.forward
_URL = re.compile(r"https?://", re.IGNORECASE)


def community_of(guild_id: int) -> CommunityRef:
    return CommunityRef(PLATFORM, str(guild_id))


def channel_key(channel: object, channel_id: int) -> str:
    """The channel an event counts in: a thread's parent, else the channel itself."""
    parent = getattr(channel, "parent_id", None)
    if isinstance(channel, discord.Thread) and parent is not None:
        return str(parent)
    return str(channel_id)


def emoji_key(emoji: discord.PartialEmoji | discord.Emoji | str) -> str:
    """Unicode emoji as is; custom emoji as name:id (two guilds may each have a ':lamp:'), like the importer."""
    if isinstance(emoji, str):
        return emoji
    if emoji.id is None:
        return emoji.name or "unknown"
    return f"{emoji.name or 'unknown'}:{emoji.id}"


def message_event(message: discord.Message) -> Event | None:
    """The Event of a member's guild message, or None (DMs, bots, webhooks, system messages)."""
    guild = message.guild
    if guild is None or message.author.bot or message.webhook_id is not None:
        return None
    if message.type not in _USER_TYPES:
        return None
    reply_to = reply_hint = None
    ref = message.reference
    if ref is not None and ref.message_id is not None and ref.type is not _FORWARD and (
            message.type is discord.MessageType.reply or ref.channel_id == message.channel.id):
        reply_to = str(ref.message_id)
        resolved = ref.resolved
        if isinstance(resolved, discord.Message) and not resolved.author.bot:
            reply_hint = str(resolved.author.id)
    mentions = tuple(dict.fromkeys(str(u.id) for u in message.mentions if not u.bot))
    content = message.content or ""
    return Event(
        kind=Kind.MESSAGE, community=community_of(guild.id), community_name=guild.name,
        channel=channel_key(message.channel, message.channel.id), ts=message.created_at,
        message_id=str(message.id), actor=str(message.author.id), actor_name=message.author.display_name,
        reply_to=reply_to, reply_to_author=reply_hint, mentions=mentions, length=len(content),
        has_link=bool(_URL.search(content)), has_attachment=bool(message.attachments or message.stickers),
    )


def raw_message_event(data: dict[str, Any], guild: discord.Guild | None, channel: object) -> Event | None:
    """The same Event as `message_event`, straight from a MESSAGE_CREATE payload.

    The live path uses this instead of discord.py's Message objects: building a Message (author,
    member, mentions, components) cost most of the gateway's time per event, and Clout reads only
    ids and links. A test checks that both functions agree on the same payloads.
    """
    guild_id = data.get("guild_id")
    author = data.get("author") or {}
    if guild_id is None or author.get("bot") or data.get("webhook_id") is not None:
        return None
    kind = data.get("type", 0)
    if kind not in _RAW_USER_TYPES:
        return None
    channel_id = int(data["channel_id"])
    reply_to = reply_hint = None
    ref = data.get("message_reference")
    if ref and ref.get("message_id") and ref.get("type", 0) != _FORWARD.value and (
            kind == discord.MessageType.reply.value or ref.get("channel_id") in (None, data["channel_id"])):
        reply_to = str(ref["message_id"])
        resolved = data.get("referenced_message")
        if resolved and not (resolved.get("author") or {}).get("bot"):
            reply_hint = str(resolved["author"]["id"])
    mentions = tuple(dict.fromkeys(str(u["id"]) for u in data.get("mentions") or () if not u.get("bot")))
    member = data.get("member") or {}
    content = data.get("content") or ""
    message_id = int(data["id"])
    return Event(
        kind=Kind.MESSAGE, community=community_of(int(guild_id)), community_name=guild.name if guild else None,
        channel=channel_key(channel, channel_id), ts=discord.utils.snowflake_time(message_id),
        message_id=str(message_id), actor=str(author["id"]),
        actor_name=member.get("nick") or author.get("global_name") or author.get("username"),
        reply_to=reply_to, reply_to_author=reply_hint, mentions=mentions, length=len(content),
        has_link=bool(_URL.search(content)), has_attachment=bool(data.get("attachments") or data.get("sticker_items")),
    )


def reaction_event(payload: discord.RawReactionActionEvent, channel: object, now: datetime,
                   bot_id: int | None) -> Event | None:
    """A raw reaction add/remove (works for messages the client never cached), or None."""
    if payload.guild_id is None or payload.user_id == bot_id:
        return None
    if payload.member is not None and payload.member.bot:
        return None
    added = payload.event_type == "REACTION_ADD"
    author = payload.message_author_id
    return Event(
        kind=Kind.REACTION_ADD if added else Kind.REACTION_REMOVE, community=community_of(payload.guild_id),
        channel=channel_key(channel, payload.channel_id), ts=now, message_id=str(payload.message_id),
        actor=str(payload.user_id), actor_name=payload.member.display_name if payload.member else None,
        emoji=emoji_key(payload.emoji), target_author=str(author) if author is not None else None,
    )


def delete_event(guild_id: int | None, channel: object, channel_id: int, message_id: int,
                 now: datetime) -> Event | None:
    if guild_id is None:
        return None
    return Event(kind=Kind.MESSAGE_DELETE, community=community_of(guild_id), channel=channel_key(channel, channel_id),
                 ts=now, message_id=str(message_id))
