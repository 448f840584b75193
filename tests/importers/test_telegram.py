"""Telegram Desktop export importer: the hand-written fixture, id mapping and every error path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.importers import ImportFormatError, read_telegram
from bot.importers.telegram import chat_id, peer_id
from scoring.model import CommunityRef, Event, Kind
from tests.importers.conftest import FIXTURES, utc, write_json

GROUP = CommunityRef("telegram", "-1001234567890")
NAME = "Tea Garden Club"


def message(message_id: str, ts, actor: str, actor_name: str, **extra) -> Event:
    return Event(kind=Kind.MESSAGE, community=GROUP, community_name=NAME, ts=ts, message_id=message_id,
                 actor=actor, actor_name=actor_name, **extra)


def reaction(message_id: str, ts, actor: str, actor_name: str, target: str, emoji: str) -> Event:
    return Event(kind=Kind.REACTION_ADD, community=GROUP, community_name=NAME, ts=ts, message_id=message_id,
                 actor=actor, actor_name=actor_name, target_author=target, emoji=emoji)


def anonymous(message_id: str, ts, target: str, emoji: str, count: int) -> Event:
    return Event(kind=Kind.REACTION_COUNT, community=GROUP, community_name=NAME, ts=ts, message_id=message_id,
                 target_author=target, emoji=emoji, count=count)


EXPECTED = [
    message("11", utc(2024, 5, 1, 12, 0), "1001", "Ada Fern", length=22),
    message("12", utc(2024, 5, 1, 12, 1), "1002", "Bo Lark", reply_to="11", mentions=("@cymoss",), length=11),
    message("13", utc(2024, 5, 1, 12, 2), "1003", "Cy Moss", reply_to="12", mentions=("1001",), length=45,
            has_link=True),
    message("14", utc(2024, 5, 1, 12, 5), "1001", "Ada Fern", length=16, has_attachment=True),
    reaction("14", utc(2024, 5, 1, 12, 6), "1003", "Cy Moss", "1001", "👍"),
    reaction("14", utc(2024, 5, 1, 12, 7, 30), "1002", "Bo Lark", "1001", "👍"),
    anonymous("14", utc(2024, 5, 1, 12, 5), "1001", "👍", 1),
    anonymous("14", utc(2024, 5, 1, 12, 5), "1001", "custom:5368324170671202286", 1),
    message("15", utc(2024, 5, 1, 12, 10), "1002", "Bo Lark", length=24),
    message("16", utc(2024, 5, 1, 12, 12), "1001", "Ada Fern", reply_to="15", has_attachment=True),
    # No date_unixtime: the local "date" is taken as UTC.
    message("17", utc(2024, 5, 1, 14, 20), "1003", "Cy Moss", length=16),
    message("18", utc(2024, 5, 1, 12, 30), "-1001234567890", NAME, length=24),
    reaction("18", utc(2024, 5, 1, 12, 31), "1001", "Ada Fern", "-1001234567890", "❤"),
    anonymous("18", utc(2024, 5, 1, 12, 30), "-1001234567890", "❤", 1),
    # A reply into another chat (reply_to_peer_id) is not a reply here.
    message("20", utc(2024, 5, 1, 12, 40), "1004", "Dee Rowan", length=10),
]


def chat(*messages: dict, chat_type: str = "private_supergroup", chat_id: int = 42) -> dict:
    return {"name": "Fixture", "type": chat_type, "id": chat_id, "messages": list(messages)}


def plain(message_id: int = 1, **fields) -> dict:
    base = {"id": message_id, "type": "message", "date": "2024-01-01T10:00:00", "date_unixtime": "1704103200",
            "from": "Ada", "from_id": "user7", "text": "hi", "text_entities": [{"type": "plain", "text": "hi"}]}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def test_read_telegram_fixture_gives_the_exact_events():
    assert list(read_telegram(FIXTURES / "telegram_supergroup.json")) == EXPECTED


def test_read_telegram_keeps_no_text():
    event = next(read_telegram(FIXTURES / "telegram_supergroup.json"))
    assert "Hello" not in repr(event)


@pytest.mark.parametrize(("chat_type", "raw", "expected"), [
    ("private_supergroup", 1234, "-1001234"),
    ("public_supergroup", 1234, "-1001234"),
    ("public_channel", 1234, "-1001234"),
    ("private_channel", 1234, "-1001234"),
    ("private_group", 1234, "-1234"),
    ("personal_chat", 1234, "1234"),
    ("bot_chat", 1234, "1234"),
    ("saved_messages", 1234, "1234"),
    ("private_supergroup", -1001234, "-1001234"),
])
def test_chat_id_follows_the_bot_api(chat_type, raw, expected):
    assert chat_id(chat_type, raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("user123", "123"), ("channel123", "-100123"), ("chat123", "-123"), (123, "123"), ("123", "123"),
])
def test_peer_id_follows_the_bot_api(raw, expected):
    assert peer_id(raw) == expected


def test_read_telegram_maps_a_personal_chat_and_a_basic_group(tmp_path):
    personal = write_json(tmp_path / "p.json", chat(plain(), chat_type="personal_chat", chat_id=555))
    group = write_json(tmp_path / "g.json", chat(plain(), chat_type="private_group", chat_id=555))
    assert next(read_telegram(personal)).community == CommunityRef("telegram", "555")
    assert next(read_telegram(group)).community == CommunityRef("telegram", "-555")


def test_read_telegram_takes_the_topic_as_channel(tmp_path):
    path = write_json(tmp_path / "t.json", chat(plain(topic_id=9)))
    assert next(read_telegram(path)).channel == "9"


def test_read_telegram_reaction_local_time_never_precedes_the_message(tmp_path):
    reactions = [{"type": "emoji", "count": 1, "emoji": "👍",
                  "recent": [{"from": "Bo", "from_id": "user8", "date": "2024-01-01T09:59:00"}]}]
    path = write_json(tmp_path / "r.json", chat(plain(reactions=reactions)))
    events = list(read_telegram(path))
    assert events[1].ts == events[0].ts == utc(2024, 1, 1, 10, 0)


def test_read_telegram_reads_metadata_that_follows_the_messages(tmp_path):
    path = tmp_path / "late.json"
    path.write_text('{"messages": [' + json.dumps(plain()) + '], "name": "Late", '
                    '"type": "public_supergroup", "id": 77}', encoding="utf-8")
    event = next(read_telegram(path))
    assert (event.community, event.community_name) == (CommunityRef("telegram", "-10077"), "Late")


def test_read_telegram_is_lazy(tmp_path):
    read_telegram(tmp_path / "missing.json")  # no error until iterated


def expect_error(path: Path, pattern: str) -> str:
    with pytest.raises(ImportFormatError) as caught:
        list(read_telegram(path))
    text = str(caught.value)
    assert text.startswith(f"{path}: "), text
    assert re.search(pattern, text), text
    assert text.endswith(".") and "\n" not in text
    return text


def test_read_telegram_truncated_file_names_the_position():
    path = FIXTURES / "telegram_truncated.json"
    events = []
    with pytest.raises(ImportFormatError) as caught:
        for event in read_telegram(path):
            events.append(event)
    assert [e.message_id for e in events] == ["11", "12"]  # raised lazily, after what was readable
    assert str(caught.value) == (f"{path}: after message #3 (near byte 1500): the file ends in the middle "
                                 "of the JSON, so it looks truncated.")


def test_read_telegram_rejects_a_discord_export():
    expect_error(FIXTURES / "discordchatexporter.json", "DiscordChatExporter file.*discord format")


def test_read_telegram_rejects_a_jsonl_file():
    expect_error(FIXTURES / "events.jsonl", "JSONL events file.*events format")


def test_read_telegram_rejects_a_whole_account_export(tmp_path):
    path = write_json(tmp_path / "all.json", {"about": "x", "chats": {"about": "y", "list": []}})
    expect_error(path, "whole-account Telegram export")


def test_read_telegram_rejects_a_top_level_list(tmp_path):
    expect_error(write_json(tmp_path / "l.json", [1, 2]), "top level is not a JSON object")


def test_read_telegram_rejects_an_unknown_chat_type(tmp_path):
    expect_error(write_json(tmp_path / "u.json", chat(plain(), chat_type="galaxy")), "unknown Telegram chat type")


def test_read_telegram_missing_from_id_names_the_message(tmp_path):
    path = write_json(tmp_path / "f.json", chat(plain(1), plain(2, from_id=None)))
    expect_error(path, r"^.*: message #2 \(id 2, near byte \d+\): 'from_id' is missing\.$")


def test_read_telegram_bad_unixtime_names_the_message(tmp_path):
    path = write_json(tmp_path / "d.json", chat(plain(5, date_unixtime="soon")))
    expect_error(path, r"message #1 \(id 5, near byte \d+\): 'date_unixtime' is not a Unix time")


def test_read_telegram_bad_date_names_the_message(tmp_path):
    path = write_json(tmp_path / "d.json", chat(plain(5, date_unixtime=None, date="yesterday")))
    expect_error(path, r"message #1 \(id 5.*'date' is not a date")


def test_read_telegram_bad_from_id_names_the_message(tmp_path):
    path = write_json(tmp_path / "d.json", chat(plain(5, from_id="robot!")))
    expect_error(path, r"message #1 .*'from_id' is not a Telegram user or channel id")


def test_read_telegram_invalid_json_names_the_position(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"name": "x", "type": "private_group", "id": 1, "messages": [{"id": 1,, }]}')
    expect_error(path, r"json: near byte \d+: the file is not valid JSON")


def test_read_telegram_empty_file(tmp_path):
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    expect_error(path, "the file is empty")


def test_read_telegram_unreadable_path(tmp_path):
    expect_error(tmp_path / "missing.json", "cannot be read")
