"""Generic events JSONL importer: every type, the optional fields and every error path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.importers import ImportFormatError, read_events
from scoring.model import CommunityRef, Event, Kind
from tests.importers.conftest import FIXTURES, utc

C1 = CommunityRef("events", "c1")

EXPECTED = [
    Event(kind=Kind.MESSAGE, community=C1, community_name="Book Circle", channel="general",
          ts=utc(2026, 3, 1, 9, 0), message_id="m1", actor="u1", actor_name="Ana"),
    # "text" is measured (31 characters, has a link) and dropped; mentions are de-duplicated.
    Event(kind=Kind.MESSAGE, community=C1, channel="general", ts=utc(2026, 3, 1, 9, 0), message_id="m2",
          actor="u2", actor_name="Ben", reply_to="m1", mentions=("u3",), length=31, has_link=True),
    Event(kind=Kind.MESSAGE, community=C1, ts=utc(2026, 3, 1, 11, 0), message_id="m3", actor="b1",
          actor_name="Helper", actor_is_bot=True, reply_to="m0", reply_to_author="u3", length=12,
          has_attachment=True),
    Event(kind=Kind.REACTION_ADD, community=C1, channel="general", ts=utc(2026, 3, 1, 9, 1), message_id="m1",
          actor="u3", actor_name="Cleo", target_author="u1", emoji="👍"),
    Event(kind=Kind.REACTION_REMOVE, community=C1, ts=utc(2026, 3, 1, 9, 2, 0, 500000), message_id="m1",
          actor="u3", emoji="👍"),
    Event(kind=Kind.REACTION_COUNT, community=C1, ts=utc(2026, 3, 1, 9, 3), message_id="m1", emoji="🎉", count=4),
    Event(kind=Kind.MESSAGE_DELETE, community=C1, ts=utc(2026, 3, 1, 9, 4), message_id="m2", actor="u2"),
    Event(kind=Kind.MESSAGE, community=CommunityRef("discord", "7700"), ts=utc(2026, 3, 1, 14, 5),
          message_id="5001", actor="8800"),
]

GOOD = '{"type": "message", "id": "m1", "ts": "2026-03-01T09:00:00Z", "community": "c1", "author": "u1"}'


def test_read_events_fixture_gives_the_exact_events():
    assert list(read_events(FIXTURES / "events.jsonl")) == EXPECTED


def expect_error(path: Path, pattern: str) -> str:
    with pytest.raises(ImportFormatError) as caught:
        list(read_events(path))
    text = str(caught.value)
    assert text.startswith(f"{path}: "), text
    assert re.search(pattern, text), text
    assert text.endswith(".") and "\n" not in text
    return text


def write_lines(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_events_bad_line_names_the_line():
    path = FIXTURES / "events_bad_line.jsonl"
    events = []
    with pytest.raises(ImportFormatError) as caught:
        for event in read_events(path):
            events.append(event)
    assert len(events) == 2  # raised lazily, at the bad line
    assert str(caught.value) == f"{path}: line 3: not valid JSON."


def test_read_events_rejects_a_json_export():
    expect_error(FIXTURES / "telegram_supergroup.json", "line 1: not valid JSON; this looks like a whole JSON")


@pytest.mark.parametrize(("line", "pattern"), [
    ('{"type": "poke", "ts": 1, "community": "c1"}', r"line 2: unknown type 'poke' \(expected one of delete, "),
    ('{"ts": 1, "community": "c1"}', "line 2: 'type' is missing"),
    ('[1, 2]', "line 2: not a JSON object"),
    ('{"type": "message", "id": "m", "ts": "2026-03-01T09:00:00", "community": "c", "author": "u"}',
     r"line 2: 'ts' '2026-03-01T09:00:00' has no time zone; add Z or an offset such as \+02:00"),
    ('{"type": "message", "id": "m", "ts": "soon", "community": "c", "author": "u"}',
     "line 2: 'ts' is not an ISO 8601 time"),
    ('{"type": "message", "id": "m", "community": "c", "author": "u"}', "line 2: 'ts' is missing"),
    ('{"type": "message", "id": "m", "ts": 1, "community": "c"}', "line 2: 'author' is missing"),
    ('{"type": "message", "id": "m", "ts": 1, "author": "u"}', "line 2: 'community' is missing"),
    ('{"type": "message", "id": "m", "ts": 1, "community": "c", "author": "u", "bot": "yes"}',
     "line 2: 'bot' is not true or false"),
    ('{"type": "message", "id": "m", "ts": 1, "community": "c", "author": "u", "mentions": "u2"}',
     "line 2: 'mentions' is not a list"),
    ('{"type": "reaction", "message_id": "m", "ts": 1, "community": "c", "user": "u"}',
     "line 2: 'emoji' is missing"),
    ('{"type": "reaction_count", "message_id": "m", "ts": 1, "community": "c", "emoji": "x", "count": -1}',
     "line 2: 'count' is not a count"),
    ('{"type": "delete", "ts": 1, "community": "c"}', "line 2: 'message_id' is missing"),
    ('{"type": "message", "id": "m", "ts": 1, "community": "c", "author": "u", "platform": "a:b"}',
     "line 2: 'platform' is not a platform name"),
])
def test_read_events_bad_field_names_the_line(tmp_path, line, pattern):
    expect_error(write_lines(tmp_path, GOOD, line), pattern)


def test_read_events_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(GOOD.encode() + b'\n{"type": "\xff"}\n')
    expect_error(path, "line 2: not valid UTF-8")


def test_read_events_unreadable_path(tmp_path):
    expect_error(tmp_path / "missing.jsonl", "cannot be read")


def test_read_events_epoch_seconds_and_offsets_become_utc(tmp_path):
    path = write_lines(
        tmp_path, GOOD.replace('"2026-03-01T09:00:00Z"', "1772355600.5"),
        GOOD.replace("09:00:00Z", "12:00:00+03:00"))
    assert [e.ts for e in read_events(path)] == [utc(2026, 3, 1, 9, 0, 0, 500000), utc(2026, 3, 1, 9, 0)]
