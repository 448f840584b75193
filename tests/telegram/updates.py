"""Raw Bot API update payloads (as Telegram sends them) for the adapter tests and the benchmark."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from tests.telegram.fakeapi import BOT_ID, BOT_USERNAME

GROUP = -1001234567890
_message_ids = itertools.count(100_000)  # explicit ids in tests stay below


def user(uid: int, first: str, *, username: str | None = None, bot: bool = False, lang: str | None = "en"
         ) -> dict[str, Any]:
    out: dict[str, Any] = {"id": uid, "is_bot": bot, "first_name": first}
    if username:
        out["username"] = username
    if lang:
        out["language_code"] = lang
    return out


ALICE = user(101, "Alice", username="alice_w")
BOB = user(102, "Bob", username="bobby")
CAROL = user(103, "Carol")
HELPER_BOT = user(555, "Helper", username="helper_bot", bot=True)
CLOUT = user(BOT_ID, "Clout", username=BOT_USERNAME, bot=True)


def group_chat(chat_id: int = GROUP, *, forum: bool = False) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": "supergroup", "title": "Test Group"}
    if forum:
        chat["is_forum"] = True
    return chat


def private_chat(who: dict[str, Any]) -> dict[str, Any]:
    return {"id": who["id"], "type": "private", "first_name": who["first_name"]}


def message(who: dict[str, Any], text: str, *, at: datetime, chat: dict[str, Any] | None = None,
            message_id: int | None = None, reply_to: dict[str, Any] | None = None,
            entities: list[dict[str, Any]] | None = None, thread: int | None = None,
            **extra: Any) -> dict[str, Any]:
    """The `message` object of an update (wrap it with `update`)."""
    msg: dict[str, Any] = {"message_id": message_id or next(_message_ids), "date": int(at.timestamp()),
                           "chat": chat or group_chat(), "from": who, "text": text, **extra}
    if reply_to is not None:
        msg["reply_to_message"] = reply_to
    if entities:
        msg["entities"] = entities
    if thread is not None:
        msg["message_thread_id"] = thread
        msg["is_topic_message"] = True
    return msg


def command(who: dict[str, Any], text: str, *, at: datetime, chat: dict[str, Any] | None = None,
            **extra: Any) -> dict[str, Any]:
    """A message starting with a bot_command entity, as Telegram marks commands."""
    name = text.split()[0]
    return message(who, text, at=at, chat=chat,
                   entities=[{"type": "bot_command", "offset": 0, "length": len(name)}], **extra)


def mention(text: str, username: str) -> dict[str, Any]:
    at = text.index("@" + username)
    return {"type": "mention", "offset": at, "length": len(username) + 1}


def text_mention(text: str, name: str, who: dict[str, Any]) -> dict[str, Any]:
    return {"type": "text_mention", "offset": text.index(name), "length": len(name), "user": who}


def update(**content: Any) -> dict[str, Any]:
    """An update without update_id (the fake assigns it; process_update tests pass one)."""
    return content


def reaction(who: dict[str, Any] | None, message_id: int, *, at: datetime, old: list[str] = (),  # type: ignore[assignment]
             new: list[str] = (), chat: dict[str, Any] | None = None) -> dict[str, Any]:  # type: ignore[assignment]
    out: dict[str, Any] = {"chat": chat or group_chat(), "message_id": message_id, "date": int(at.timestamp()),
                           "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
                           "new_reaction": [{"type": "emoji", "emoji": e} for e in new]}
    if who is not None:
        out["user"] = who
    else:
        out["actor_chat"] = chat or group_chat()
    return {"message_reaction": out}


def reaction_count(message_id: int, counts: dict[str, int], *, at: datetime,
                   chat: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"message_reaction_count": {
        "chat": chat or group_chat(), "message_id": message_id, "date": int(at.timestamp()),
        "reactions": [{"type": {"type": "emoji", "emoji": e}, "total_count": n} for e, n in counts.items()]}}


def my_chat_member(old: str, new: str, *, at: datetime, by: dict[str, Any] = ALICE,
                   chat: dict[str, Any] | None = None) -> dict[str, Any]:
    def member(status: str) -> dict[str, Any]:
        if status == "administrator":
            flags = ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                     "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
                     "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories")
            return {"status": status, "user": CLOUT, **{f: False for f in flags}}
        if status == "kicked":
            return {"status": status, "user": CLOUT, "until_date": 0}
        return {"status": status, "user": CLOUT}
    return {"my_chat_member": {"chat": chat or group_chat(), "from": by, "date": int(at.timestamp()),
                               "old_chat_member": member(old), "new_chat_member": member(new)}}


def callback(who: dict[str, Any], data: str, on: dict[str, Any]) -> dict[str, Any]:
    return {"callback_query": {"id": f"cb{next(_message_ids)}", "from": who, "chat_instance": "ci",
                               "data": data, "message": on}}
