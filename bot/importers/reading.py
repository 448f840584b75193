"""What every importer shares: errors with a position, field checks, and the streaming JSON reader."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ijson

from scoring.errors import UserError

__all__ = [
    "FieldError", "ImportFormatError", "JsonExport", "Progress", "as_count", "as_id", "looks_like_jsonl",
    "open_export", "short",
]

Progress = Callable[[int], None]

# Report progress every this many messages: often enough for a smooth bar, rare enough to cost nothing.
PROGRESS_EVERY = 500
# How much of the file start is read to recognise a JSONL file handed to a JSON importer.
_SNIFF_BYTES = 64 * 1024


class ImportFormatError(UserError):
    """An export file that cannot be imported; the message is one sentence naming the file and where."""


class FieldError(Exception):
    """A problem inside one record; the reader adds the file and the position before it reaches the user."""


def short(value: object, limit: int = 40) -> str:
    """A value for an error message, clipped so a bad field never dumps a whole record."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_id(value: object, name: str) -> str:
    """An id field as a string; exports write ids as numbers or strings, both are accepted."""
    if value is None:
        raise FieldError(f"'{name}' is missing")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise FieldError(f"'{name}' is not an id: {short(value)}")
    return str(value)


def as_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FieldError(f"'{name}' is not a count: {short(value)}")
    return value


def _json_problem(exc: Exception) -> str:
    # yajl's own message quotes the surrounding bytes (possibly message text): keep only its kind.
    detail = str(exc)
    if "premature EOF" in detail:
        return "the file ends in the middle of the JSON, so it looks truncated"
    if "trailing garbage" in detail:
        return "there is more data after the end of the JSON document"
    if "UTF8" in detail:
        return "the file is not valid UTF-8"
    return "the file is not valid JSON"


def looks_like_jsonl(fh: IO[bytes]) -> bool:
    """True when the file starts with a complete one-line JSON object followed by more lines."""
    head = fh.read(_SNIFF_BYTES)
    fh.seek(0)
    first, sep, rest = head.partition(b"\n")
    if not sep or not rest.strip():
        return False
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


@dataclass
class JsonExport:
    """One JSON export read in bounded memory: top-level header fields, then `messages` one at a time.

    `header` maps dotted prefixes of scalars at depth one or two (``"name"``, ``"guild.id"``) to
    their values; `top_keys` is every top-level key seen. Everything under `messages` is skipped
    while reading the header and streamed by `messages()` afterwards.
    """

    path: Path
    fh: IO[bytes]
    progress: Progress | None = None
    header: dict[str, Any] = field(default_factory=dict)
    top_keys: set[str] = field(default_factory=set)
    has_messages: bool = False
    _reported: int = 0
    _seen: int = 0

    def error(self, detail: str, *, index: int = 0, after: bool = False,
              message_id: object = None, byte: int | None = None) -> ImportFormatError:
        """`path: message #12 (id 345, near byte 3456): detail.` with whatever position is known."""
        notes = [] if message_id is None or after else [f"id {str(message_id)[:40]}"]
        if byte is not None:
            notes.append(f"near byte {byte}")
        where = f"{'after ' if after else ''}message #{index}" if index else ""
        if notes:
            where = f"{where} ({', '.join(notes)})" if where else notes[0]
        prefix = f"{self.path}: {where}: " if where else f"{self.path}: "
        return ImportFormatError(prefix + detail.rstrip(".") + ".")

    def read_header(self, required: AbstractSet[str], foreign: AbstractSet[str] = frozenset()) -> None:
        """Collect header fields until `messages` starts; scan on past it only if `required` is incomplete.

        `foreign` are top-level keys of other formats: seeing one ends the scan early, so handing a
        large file to the wrong importer fails at once rather than after reading it all.
        """
        try:
            self._scan_header(required, foreign)
        except ijson.JSONError as exc:
            # The parser works a buffer ahead, so damage inside `messages` can surface here; once the
            # header is complete, leave it to messages(), which can say which message it follows.
            if not required <= self.header.keys():
                raise self.error(_json_problem(exc), byte=self.fh.tell()) from None
            self.has_messages = True
        finally:
            self.fh.seek(0)

    def _scan_header(self, required: AbstractSet[str], foreign: AbstractSet[str]) -> None:
        first = True
        for prefix, event, value in ijson.parse(self.fh, use_float=True):
            if first:
                first = False
                if event != "start_map":
                    raise self.error("the top level is not a JSON object, so this is not a chat export")
            if prefix == "":
                if event == "map_key":
                    self.top_keys.add(value)
                continue
            if prefix == "messages" or prefix.startswith("messages."):
                if prefix == "messages" and event == "start_array":
                    self.has_messages = True
                    # Exports put their metadata first; only an unusual file needs the full scan.
                    if required <= self.header.keys() or foreign & self.top_keys:
                        return
                continue
            if event in ("string", "number", "boolean", "null") and prefix.count(".") <= 1:
                self.header[prefix] = value

    def messages(self) -> Iterator[tuple[int, Any]]:
        """Yield (1-based index, message) pairs; JSON damage becomes an ImportFormatError with a position."""
        self.fh.seek(0)
        items = ijson.items(self.fh, "messages.item", use_float=True)
        while True:
            try:
                message = next(items)
            except StopIteration:
                break
            except ijson.JSONError as exc:
                raise self.error(_json_problem(exc), index=self._seen, after=self._seen > 0,
                                 byte=self.fh.tell()) from None
            self._seen += 1
            if self._seen % PROGRESS_EVERY == 0:
                self.report()
            yield self._seen, message
        self.report()

    def report(self) -> None:
        if self.progress is None:
            return
        position = self.fh.tell()
        if position > self._reported:
            self._reported = position
            self.progress(position)

    def field_error(self, exc: FieldError, index: int, message_id: object) -> ImportFormatError:
        return self.error(str(exc), index=index, message_id=message_id, byte=self.fh.tell())


def open_export(path: Path) -> IO[bytes]:
    """Open an export for binary streaming; an unreadable path is the operator's to fix."""
    try:
        if Path(path).stat().st_size == 0:
            raise ImportFormatError(f"{path}: the file is empty.")
        return open(path, "rb")  # the generator that calls this closes it
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
