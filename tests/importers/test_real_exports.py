"""The real exports in ../shared/data parse fully, with the counts their SOURCE.txt reports."""

from __future__ import annotations

from collections import Counter

from bot.importers import read_discord, read_telegram
from scoring.model import CommunityRef, Kind


def test_read_discord_real_export_matches_source_counts(shared_data):
    path = shared_data / "discord-tyrrrz-open-source" / "discord-chat-exporter-channel.json"
    events = list(read_discord(path))
    messages = [e for e in events if e.kind is Kind.MESSAGE]
    counts = [e for e in events if e.kind is Kind.REACTION_COUNT]
    # 1,693 messages minus ChannelPinnedMessage and "18" (thread created).
    assert len(messages) == 1_691
    # 209 references, 208 with a messageId; one of those is the skipped pin notice.
    assert sum(1 for e in messages if e.reply_to) == 207
    assert sum(len(e.mentions) for e in messages) == 216
    assert len({e.actor for e in messages}) == 93
    assert len({e.actor for e in messages if e.actor_is_bot}) == 1
    # 60 messages with reactions, 83 in all, no per-user lists in this 2021 export.
    assert len({e.message_id for e in counts}) == 60
    assert sum(e.count for e in counts) == 83
    assert Counter(e.kind for e in events)[Kind.REACTION_ADD] == 0
    assert {e.community for e in events} == {CommunityRef("discord", "869237470565392384")}
    assert {e.channel for e in events} == {"869237617789648906"}
    assert min(e.ts for e in messages).date().isoformat() == "2021-07-26"
    assert max(e.ts for e in messages).date().isoformat() == "2021-10-05"


def test_read_telegram_real_personal_chat_matches_source_counts(shared_data):
    events = list(read_telegram(shared_data / "telegram-personal-adobyy" / "result.json"))
    messages = [e for e in events if e.kind is Kind.MESSAGE]
    reactions = [e for e in events if e.kind is Kind.REACTION_ADD]
    assert len(messages) == 4_610
    assert sum(1 for e in messages if e.reply_to) == 343
    assert len(reactions) == 272
    assert Counter(e.kind for e in events)[Kind.REACTION_COUNT] == 0
    assert len({e.actor for e in messages}) == 2
    assert sum(len(e.mentions) for e in messages) == 2
    assert {e.community for e in events} == {CommunityRef("telegram", "836495468")}
    by_id = {m.message_id: m for m in messages}
    assert all(r.target_author == by_id[r.message_id].actor for r in reactions)
    assert all(r.ts >= by_id[r.message_id].ts for r in reactions)


def test_read_telegram_real_channel_matches_source_counts(shared_data):
    events = list(read_telegram(shared_data / "telegram-channel-cs-programming" / "result.json"))
    assert len(events) == 1_035
    assert {e.actor for e in events} == {"-1001309924870"}
    assert {e.community for e in events} == {CommunityRef("telegram", "-1001309924870")}
    assert sum(1 for e in events if e.reply_to) == 2
    assert sum(len(e.mentions) for e in events) == 62
