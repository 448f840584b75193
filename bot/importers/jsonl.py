"""The generic `events` JSONL format (one event object per line) read into Events, line by line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.importers.reading import FieldError, ImportFormatError, Progress, as_count, as_id, short
from scoring.model import CommunityRef, Event, Kind

__all__ = ["DEFAULT_PLATFORM", "read_events", "records_to_events"]

DEFAULT_PLATFORM = "events"
# Report progress every this many lines.
PROGRESS_EVERY = 1000

_URL = re.compile(r"https?://", re.IGNORECASE)


def read_events(path: Path, progress: Progress | None = None) -> Iterator[Event]:
    """Stream a generic events JSONL file as Events, one line at a time (blank lines are ignored)."""
    try:
        fh = open(path, "rb")  # closed by the with below
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    consumed = 0
    with fh:
        for number, raw in enumerate(fh, start=1):
            consumed += len(raw)
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(consumed)
            if not raw.strip():
                continue
            try:
                yield _event(_parse(raw, number))
            except FieldError as exc:
                raise ImportFormatError(f"{path}: line {number}: {str(exc).rstrip('.')}.") from None
    if progress is not None:
        progress(consumed)


def records_to_events(records: Iterable[dict[str, Any]], *, source: str = "records") -> Iterator[Event]:
    """Turn already-parsed event objects (the JSONL shape) into Events, with the file reader's checks."""
    for number, line in enumerate(records, start=1):
        try:
            yield _event(line)
        except FieldError as exc:
            raise ImportFormatError(f"{source}: record {number}: {str(exc).rstrip('.')}.") from None


def _parse(raw: bytes, number: int) -> dict[str, Any]:
    try:
        line = json.loads(raw)
    except UnicodeDecodeError:
        raise FieldError("not valid UTF-8") from None
    except ValueError:
        if number == 1 and raw.strip() in (b"{", b"["):
            raise FieldError("not valid JSON; this looks like a whole JSON document (a Telegram or "
                             "Discord export?), not one event per line") from None
        raise FieldError("not valid JSON") from None
    if not isinstance(line, dict):
        raise FieldError("not a JSON object")
    return line


def _event(line: dict[str, Any]) -> Event:
    kind = line.get("type")
    build = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if build is None:
        if kind is None:
            raise FieldError("'type' is missing")
        raise FieldError(f"unknown type {short(kind)} (expected one of {', '.join(sorted(_BUILDERS))})")
    return build(line)


def _message(line: dict[str, Any]) -> Event:
    # A "text" field is accepted so that converters can pass text through: only its numbers are kept.
    text = line.get("text")
    text = text if isinstance(text, str) else ""
    return Event(
        kind=Kind.MESSAGE, **_common(line), message_id=as_id(line.get("id"), "id"),
        actor=as_id(line.get("author"), "author"), actor_name=_optional_str(line, "author_name"),
        actor_is_bot=_flag(line, "bot"), reply_to=_optional_id(line, "reply_to"),
        reply_to_author=_optional_id(line, "reply_to_author"), mentions=_mentions(line),
        length=as_count(line["length"], "length") if "length" in line else len(text),
        has_link=_flag(line, "has_link") or bool(_URL.search(text)),
        has_attachment=_flag(line, "has_attachment"),
    )


def _reaction(kind: Kind) -> Callable[[dict[str, Any]], Event]:
    def build(line: dict[str, Any]) -> Event:
        return Event(
            kind=kind, **_common(line), message_id=as_id(line.get("message_id"), "message_id"),
            actor=as_id(line.get("user"), "user"), actor_name=_optional_str(line, "user_name"),
            actor_is_bot=_flag(line, "bot"), target_author=_optional_id(line, "message_author"),
            emoji=_emoji(line),
        )
    return build


def _delete(line: dict[str, Any]) -> Event:
    return Event(
        kind=Kind.MESSAGE_DELETE, **_common(line), message_id=as_id(line.get("message_id"), "message_id"),
        actor=_optional_id(line, "user"),
    )


def _reaction_count(line: dict[str, Any]) -> Event:
    if "count" not in line:
        raise FieldError("'count' is missing")
    return Event(
        kind=Kind.REACTION_COUNT, **_common(line), message_id=as_id(line.get("message_id"), "message_id"),
        target_author=_optional_id(line, "message_author"), emoji=_emoji(line),
        count=as_count(line["count"], "count"),
    )


_BUILDERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "message": _message,
    "reaction": _reaction(Kind.REACTION_ADD),
    "reaction_remove": _reaction(Kind.REACTION_REMOVE),
    "delete": _delete,
    "reaction_count": _reaction_count,
}


def _common(line: dict[str, Any]) -> dict[str, Any]:
    platform = line.get("platform", DEFAULT_PLATFORM)
    if not isinstance(platform, str) or not platform or ":" in platform:
        raise FieldError(f"'platform' is not a platform name: {short(platform)}")
    return {
        "community": CommunityRef(platform, as_id(line.get("community"), "community")),
        "community_name": _optional_str(line, "community_name"),
        "channel": _optional_id(line, "channel"),
        "ts": _time(line.get("ts")),
    }


def _time(value: object) -> datetime:
    """ISO 8601 with Z or an offset, or Unix seconds; a time without a zone is ambiguous, so refused."""
    if value is None:
        raise FieldError("'ts' is missing")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError):
            raise FieldError(f"'ts' is not a Unix time: {short(value)}") from None
    if not isinstance(value, str):
        raise FieldError(f"'ts' is not a time: {short(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(f"'ts' is not an ISO 8601 time: {short(value)}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise FieldError(f"'ts' {short(value)} has no time zone; add Z or an offset such as +02:00")
    return parsed.astimezone(UTC)


def _emoji(line: dict[str, Any]) -> str:
    emoji = line.get("emoji")
    if not isinstance(emoji, str) or not emoji:
        raise FieldError("'emoji' is missing" if emoji is None else f"'emoji' is not text: {short(emoji)}")
    return emoji


def _mentions(line: dict[str, Any]) -> tuple[str, ...]:
    mentions = line.get("mentions") or []
    if not isinstance(mentions, list):
        raise FieldError("'mentions' is not a list")
    return tuple(dict.fromkeys(as_id(m, "mentions") for m in mentions))


def _optional_id(line: dict[str, Any], name: str) -> str | None:
    return None if line.get(name) is None else as_id(line[name], name)


def _optional_str(line: dict[str, Any], name: str) -> str | None:
    value = line.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(f"'{name}' is not text: {short(value)}")
    return value


def _flag(line: dict[str, Any], name: str) -> bool:
    value = line.get(name, False)
    if not isinstance(value, bool):
        raise FieldError(f"'{name}' is not true or false: {short(value)}")
    return value
