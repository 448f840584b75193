"""DiscordChatExporter importer: the hand-written fixture, DMs, skipped system messages and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.importers import ImportFormatError, read_discord
from scoring.model import CommunityRef, Event, Kind
from tests.importers.conftest import FIXTURES, utc, write_json

GUILD = CommunityRef("discord", "900000000000000001")
NAME = "Lantern Makers"
CHANNEL = "900000000000000010"
ADA, BO, CY, BOT = "920000000000000001", "920000000000000002", "920000000000000003", "920000000000000099"
M1, M3, M4, M5, M8 = (f"91000000000000000{n}" for n in (1, 3, 4, 5, 8))


def event(kind: Kind, message_id: str, ts, **extra) -> Event:
    return Event(kind=kind, community=GUILD, community_name=NAME, channel=CHANNEL, ts=ts, message_id=message_id,
                 **extra)


T1, T3, T4, T5 = (utc(2024, 6, 1, 10, 0, 0, 123000), utc(2024, 6, 1, 10, 2), utc(2024, 6, 1, 10, 3, 0, 500000),
                  utc(2024, 6, 1, 10, 5, 0, 123456))
EXPECTED = [
    event(Kind.MESSAGE, M1, T1, actor=ADA, actor_name="Ada", length=43, has_link=True),
    event(Kind.REACTION_ADD, M1, T1, actor=BO, actor_name="bo_lark", target_author=ADA, emoji="👍"),
    event(Kind.REACTION_ADD, M1, T1, actor=CY, actor_name="Cy", target_author=ADA, emoji="👍"),
    # message 2 is ChannelPinnedMessage: skipped
    event(Kind.MESSAGE, M3, T3, actor=BO, actor_name="bo_lark", reply_to=M1, mentions=(ADA,), length=13,
          has_attachment=True),
    event(Kind.MESSAGE, M4, T4, actor=BOT, actor_name="Lamplighter", actor_is_bot=True, length=27),
    event(Kind.REACTION_COUNT, M4, T4, target_author=BOT, emoji="lamp:930000000000000001", count=3),
    event(Kind.MESSAGE, M5, T5, actor=CY, actor_name="Cy", reply_to=M3, mentions=(BO, ADA), length=25),
    event(Kind.REACTION_ADD, M5, T5, actor=ADA, actor_name="Ada", target_author=CY, emoji="🔥"),
    event(Kind.REACTION_COUNT, M5, T5, target_author=CY, emoji="🔥", count=1),
    # messages 6 (GuildMemberJoin) and 7 ("18", thread created): skipped
    event(Kind.MESSAGE, M8, utc(2024, 6, 1, 10, 9), actor=BOT, actor_name="Lamplighter", actor_is_bot=True,
          length=21),
]


def export(*messages: dict, guild: str = "1", channel: str = "2") -> dict:
    return {"guild": {"id": guild, "name": "G"}, "channel": {"id": channel, "name": "c"}, "messages": list(messages)}


def plain(message_id: str = "10", **fields) -> dict:
    base = {"id": message_id, "type": "Default", "timestamp": "2024-01-01T10:00:00+00:00", "content": "hi",
            "author": {"id": "5", "name": "ada", "nickname": None, "isBot": False},
            "attachments": [], "reactions": [], "mentions": []}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def test_read_discord_fixture_gives_the_exact_events():
    assert list(read_discord(FIXTURES / "discordchatexporter.json")) == EXPECTED


def test_read_discord_direct_messages_use_the_channel_as_community(tmp_path):
    path = write_json(tmp_path / "dm.json", export(plain(), guild="0", channel="77"))
    first = next(read_discord(path))
    assert (first.community, first.channel, first.community_name) == (CommunityRef("discord", "77"), "77", "c")


def test_read_discord_crosspost_reference_is_not_a_reply(tmp_path):
    reference = {"messageId": "3", "channelId": "999", "guildId": "888"}
    path = write_json(tmp_path / "x.json", export(plain(reference=reference)))
    assert next(read_discord(path)).reply_to is None


def test_read_discord_reads_metadata_that_follows_the_messages(tmp_path):
    path = tmp_path / "late.json"
    path.write_text('{"messages": [' + json.dumps(plain()) + '], "guild": {"id": "4", "name": "Late"}, '
                    '"channel": {"id": "6"}}', encoding="utf-8")
    first = next(read_discord(path))
    assert (first.community, first.community_name, first.channel) == (CommunityRef("discord", "4"), "Late", "6")


def expect_error(path: Path, pattern: str) -> str:
    with pytest.raises(ImportFormatError) as caught:
        list(read_discord(path))
    text = str(caught.value)
    assert text.startswith(f"{path}: "), text
    assert re.search(pattern, text), text
    assert text.endswith(".") and "\n" not in text
    return text


def test_read_discord_truncated_file_names_the_position():
    path = FIXTURES / "discordchatexporter_truncated.json"
    assert expect_error(path, "looks truncated") == (
        f"{path}: after message #2 (near byte 2500): the file ends in the middle of the JSON, so it looks truncated.")


def test_read_discord_rejects_a_telegram_export():
    expect_error(FIXTURES / "telegram_supergroup.json", "Telegram Desktop export.*telegram format")


def test_read_discord_rejects_a_jsonl_file():
    expect_error(FIXTURES / "events.jsonl", "JSONL events file.*events format")


def test_read_discord_rejects_unrelated_json(tmp_path):
    expect_error(write_json(tmp_path / "o.json", {"hello": "world"}), "not a DiscordChatExporter JSON export")


def test_read_discord_missing_author_names_the_message(tmp_path):
    path = write_json(tmp_path / "a.json", export(plain("10"), plain("11", author=None)))
    expect_error(path, r"message #2 \(id 11, near byte \d+\): 'author' is missing\.$")


def test_read_discord_naive_timestamp_is_refused(tmp_path):
    path = write_json(tmp_path / "t.json", export(plain(timestamp="2024-01-01T10:00:00")))
    expect_error(path, r"message #1 \(id 10.*'timestamp' has no UTC offset")


def test_read_discord_bad_timestamp_is_refused(tmp_path):
    path = write_json(tmp_path / "t.json", export(plain(timestamp="last tuesday")))
    expect_error(path, r"message #1 \(id 10.*'timestamp' is not an ISO 8601 date")


def test_read_discord_bad_reaction_count_is_refused(tmp_path):
    reactions = [{"emoji": {"id": None, "name": "x"}, "count": "many"}]
    path = write_json(tmp_path / "r.json", export(plain(reactions=reactions)))
    expect_error(path, r"message #1 .*'reactions.count' is not a count")
