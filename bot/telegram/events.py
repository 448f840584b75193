"""Telegram updates normalized to Events, with the same ids and conventions as the Desktop-export importer.

Conventions shared with `bot.importers.telegram` (so live and imported data are one log):

- community = CommunityRef("telegram", str(chat.id)) — the Bot API chat id (-100… for supergroups);
- user ids and message ids are the Bot API numbers as strings;
- channel = the forum topic id as a string for messages in a forum topic, None otherwise (a plain
  group, or a forum's General topic);
- a mention by @username becomes the member's id when the username is known, else "@username"
  lower-cased (what the importer writes); a text_mention carries the id itself;
- named reactions are REACTION_ADD/REMOVE with emoji, "custom:<id>" for custom emoji or "paid";
  anonymous reaction counts are REACTION_COUNT without an actor.

What is not counted: bots, messages sent on behalf of a chat (channel posts, anonymous admins,
automatic forwards from a linked channel), forwards of channel posts, service messages (joins,
pins, topic changes) and edits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from telegram import (
    Chat,
    Message,
    MessageEntity,
    MessageOriginChannel,
    MessageReactionCountUpdated,
    MessageReactionUpdated,
    ReactionType,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    User,
)

from scoring.model import CommunityRef, Event, Kind

__all__ = ["GROUP_TYPES", "PLATFORM", "community_of", "emoji_of", "message_event", "raw_message_event",
           "reaction_count_events", "reaction_events", "topic_of"]

PLATFORM = "telegram"
GROUP_TYPES = frozenset({Chat.GROUP, Chat.SUPERGROUP})
_LINKS = frozenset({MessageEntity.URL, MessageEntity.TEXT_LINK})

# Resolves "@username" (lower-cased, without '@') to a member id, or None when never seen.
Resolve = Callable[[str], Awaitable[str | None]]


def community_of(chat: Chat) -> CommunityRef:
    return CommunityRef(PLATFORM, str(chat.id))


def topic_of(message: Message) -> str | None:
    """The forum topic a message is in (None outside forum topics; General has no thread id)."""
    if message.is_topic_message and message.message_thread_id is not None:
        return str(message.message_thread_id)
    return None


def counts_author(user: User | None, message: Message | None = None) -> bool:
    """Whether a message's or reaction's sender is a member whose activity counts."""
    if user is None or user.is_bot:
        return False
    if message is not None:
        if message.sender_chat is not None or message.is_automatic_forward:
            return False  # posted as a channel or as the group itself (anonymous admin)
        if isinstance(message.forward_origin, MessageOriginChannel):
            return False  # a channel post forwarded into the group: the channel's words, not theirs
    return True


def _reply_target(message: Message) -> Message | None:
    target = message.reply_to_message
    if target is None:
        return None
    # In a forum topic every message "replies" to the topic's opening service message.
    if target.forum_topic_created is not None:
        return None
    if message.is_topic_message and target.message_id == message.message_thread_id:
        return None
    return target


async def message_event(message: Message, resolve: Resolve, *, bot_username: str | None = None) -> Event | None:
    """The MESSAGE event of a new group message, or None when it does not count."""
    if message.chat.type not in GROUP_TYPES or not counts_author(message.from_user, message):
        return None
    attachment = message.effective_attachment
    if message.text is None and message.caption is None and attachment is None:
        return None  # a service message: joins, pins, topic changes
    author = message.from_user
    assert author is not None  # counts_author checked it
    target = _reply_target(message)
    reply_hint = None
    if target is not None and counts_author(target.from_user, target):
        reply_hint = str(target.from_user.id)  # type: ignore[union-attr]
    entities = message.parse_entities() if message.text is not None else message.parse_caption_entities()
    mentions: list[str] = []
    own = (bot_username or "").casefold()
    for entity, text in entities.items():
        if entity.type == MessageEntity.MENTION and len(text) > 1:
            username = text.removeprefix("@").casefold()
            if username == own:
                continue  # talking to Clout is no response to a member
            mentions.append(await resolve(username) or "@" + username)
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and not entity.user.is_bot:
            mentions.append(str(entity.user.id))
    body = message.text if message.text is not None else message.caption or ""
    return Event(
        kind=Kind.MESSAGE, community=community_of(message.chat), ts=message.date, message_id=str(message.message_id),
        actor=str(author.id), actor_name=author.full_name or None, channel=topic_of(message),
        community_name=message.chat.title, reply_to=str(target.message_id) if target is not None else None,
        reply_to_author=reply_hint, mentions=tuple(dict.fromkeys(mentions)), length=len(body),
        has_link=any(e.type in _LINKS for e in entities), has_attachment=attachment is not None)


def emoji_of(reaction: ReactionType) -> str:
    """The emoji key of a reaction, as the importer writes it."""
    if isinstance(reaction, ReactionTypeEmoji):
        return reaction.emoji
    if isinstance(reaction, ReactionTypeCustomEmoji):
        return f"custom:{reaction.custom_emoji_id}"
    return str(reaction.type)  # "paid"


def _emojis(reactions: Sequence[ReactionType] | None) -> list[str]:
    return list(dict.fromkeys(emoji_of(r) for r in reactions or ()))


def reaction_events(update: MessageReactionUpdated) -> list[Event]:
    """REACTION_ADD/REMOVE events from the difference of old and new reactions of one member."""
    if update.chat.type not in GROUP_TYPES or not counts_author(update.user):
        return []  # an anonymous admin (actor_chat) or a bot
    assert update.user is not None
    old, new = _emojis(update.old_reaction), _emojis(update.new_reaction)
    common = {"community": community_of(update.chat), "ts": update.date, "message_id": str(update.message_id),
              "actor": str(update.user.id), "actor_name": update.user.full_name or None}
    return ([Event(kind=Kind.REACTION_ADD, emoji=e, **common) for e in new if e not in old]  # type: ignore[arg-type]
            + [Event(kind=Kind.REACTION_REMOVE, emoji=e, **common) for e in old if e not in new])  # type: ignore[arg-type]


def reaction_count_events(update: MessageReactionCountUpdated) -> list[Event]:
    """REACTION_COUNT events (anonymous reactions): the current total per emoji, no reactor."""
    if update.chat.type not in GROUP_TYPES:
        return []
    ref = community_of(update.chat)
    return [Event(kind=Kind.REACTION_COUNT, community=ref, ts=update.date, message_id=str(update.message_id),
                  emoji=emoji_of(r.type), count=r.total_count) for r in update.reactions]


# -- fast path: plain group text messages straight from the getUpdates JSON ----------------------
# Building PTB objects for every update is most of the bot's CPU per message (Update.de_json). The
# common case — a text message by a member in a plain group or supergroup, not a command, not in
# a forum — is read from the JSON here; everything else (commands, captions and media, forums,
# forwards, chats posting as themselves, service messages) keeps the normal path.
# tests/telegram/test_fast_path.py checks that both paths give equal Events.
_SIMPLE_KEYS = frozenset({"message_id", "from", "chat", "date", "text", "entities", "reply_to_message",
                          "link_preview_options", "message_thread_id", "is_topic_message", "has_protected_content"})
_FAST_ENTITIES = frozenset({"mention", "text_mention", "url", "text_link", "bold", "italic", "underline",
                            "strikethrough", "spoiler", "code", "pre", "hashtag", "cashtag", "email",
                            "phone_number", "custom_emoji", "blockquote", "expandable_blockquote"})


def _counts_raw(sender: dict | None, message: dict) -> bool:
    if not sender or sender.get("is_bot") or "sender_chat" in message or message.get("is_automatic_forward"):
        return False
    origin = message.get("forward_origin")
    return not (origin and origin.get("type") == "channel")


async def raw_message_event(raw: dict, resolve: Resolve, *, bot_username: str | None = None) -> Event | None:
    """The MESSAGE event of a plain group text message read from the update JSON, or None when the
    update is not such a message (the caller then hands it to PTB as usual)."""
    message = raw.get("message")
    if not message or len(raw) != 2 or not message.keys() <= _SIMPLE_KEYS:
        return None
    chat, sender, text = message.get("chat") or {}, message.get("from"), message.get("text")
    if chat.get("type") not in GROUP_TYPES or chat.get("is_forum") or message.get("is_topic_message"):
        return None
    if not isinstance(text, str) or text.startswith("/") or not _counts_raw(sender, message):
        return None
    entities = message.get("entities") or ()
    if any(e.get("type") not in _FAST_ENTITIES for e in entities):
        return None
    assert sender is not None
    target = message.get("reply_to_message")
    reply_hint = None
    if target is not None:
        if "forum_topic_created" in target:
            return None
        if _counts_raw(target.get("from"), target):
            reply_hint = str(target["from"]["id"])
    utf16 = text.encode("utf-16-le") if entities else b""
    mentions: list[str] = []
    own = (bot_username or "").casefold()
    for entity in entities:
        kind = entity.get("type")
        if kind == "mention":
            start, length = entity["offset"] * 2, entity["length"] * 2
            word = utf16[start:start + length].decode("utf-16-le")
            if len(word) > 1:
                username = word.removeprefix("@").casefold()
                if username != own:
                    mentions.append(await resolve(username) or "@" + username)
        elif kind == "text_mention":
            user = entity.get("user") or {}
            if user and not user.get("is_bot"):
                mentions.append(str(user["id"]))
    name = " ".join(p for p in (sender.get("first_name"), sender.get("last_name")) if p)
    return Event(
        kind=Kind.MESSAGE, community=CommunityRef(PLATFORM, str(chat["id"])),
        ts=datetime.fromtimestamp(message["date"], UTC), message_id=str(message["message_id"]),
        actor=str(sender["id"]), actor_name=name or None, channel=None, community_name=chat.get("title"),
        reply_to=str(target["message_id"]) if target is not None else None, reply_to_author=reply_hint,
        mentions=tuple(dict.fromkeys(mentions)), length=len(text),
        has_link=any(e.get("type") in ("url", "text_link") for e in entities), has_attachment=False)
