"""Persistence: the Store contract, its backends, and `open_store` to pick one from a URL or path."""

from __future__ import annotations

import os
from pathlib import Path

from storage.base import (
    CommunityInfo,
    ImportStats,
    SchemaTooNewError,
    Store,
    StoredScores,
    StoreError,
)

__all__ = [
    "CommunityInfo",
    "ImportStats",
    "SchemaTooNewError",
    "Store",
    "StoreError",
    "StoredScores",
    "open_store",
]


def open_store(url_or_path: str | os.PathLike[str]) -> Store:
    """Build (not open) the store a database URL or file path names; call `await store.open()` next.

    Accepted: a file path, `sqlite:///relative/path`, `sqlite:////absolute/path`,
    `sqlite:///:memory:` (or `sqlite://`), `postgresql://...` (or `postgres://`) for a PostgreSQL
    server, and `memory://` for the in-memory fake.
    Raises StoreError for any other scheme.
    """
    # Imported here so that picking a backend does not import the others' drivers.
    from storage.memory import MemoryStore
    from storage.sqlite import SqliteStore

    if isinstance(url_or_path, Path) or not isinstance(url_or_path, str):
        return SqliteStore(os.fspath(url_or_path))
    text = url_or_path.strip()
    if not text:
        raise StoreError("The database location is empty; give a file path or a sqlite:/// URL.")
    scheme, sep, rest = text.partition("://")
    if not sep:
        return SqliteStore(text)  # a plain path (including ':memory:')
    scheme = scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        # SQLAlchemy's convention: sqlite:///relative.db and sqlite:////absolute.db.
        if rest in ("", "/"):
            return SqliteStore(":memory:")
        if not rest.startswith("/"):
            raise StoreError(f"The SQLite URL {text!r} needs three slashes, like sqlite:///clout.db.")
        path = rest[1:].split("?", 1)[0]
        return SqliteStore(path or ":memory:")
    if scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+"):
        from storage.postgres import PostgresStore

        return PostgresStore(text)
    raise StoreError(f"Database URLs starting with {scheme}:// are not supported yet; use a SQLite "
                     "file path, sqlite:///path, postgresql://... or memory://.")
