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

import discord

from scoring.model import CommunityRef, Event, Kind

__all__ = ["PLATFORM", "channel_key", "community_of", "delete_event", "emoji_key", "message_event",
           "reaction_event"]

PLATFORM = "discord"
_USER_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
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
    if ref is not None and ref.message_id is not None and (
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
