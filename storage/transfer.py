"""Copying a whole Clout database between SQLite and PostgreSQL (`clout migrate`): resumable, verified.

Both databases are first opened with their store, so the source is migrated to this code's schema
version (a newer one is refused) and the target's tables are created. The tables to copy are then
read from the schemas themselves (sqlite_master + PRAGMA on SQLite, information_schema on
PostgreSQL), never from a list kept here, and copied parents first (foreign keys). Each table is
read in primary-key order in chunks (keyset pagination: bounded memory, and a seek instead of an
offset); each chunk is written (COPY on PostgreSQL, executemany on SQLite) in one target
transaction together with its row in the `clout_transfer` progress table, so a run that stops for
any reason resumes after the last committed chunk when started again with the same source.
At the end, identity sequences are moved past the copied ids, and every table's row count and a
cheap per-column checksum are compared between source and target; only then is the run marked done.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite
import asyncpg

from storage import postgres as pg_store
from storage import sqlite as sqlite_store
from storage.base import StoreError
from storage.migrations import latest_version

__all__ = ["PROGRESS_TABLE", "TableReport", "TransferError", "TransferReport", "transfer"]

PROGRESS_TABLE = "clout_transfer"
# Bookkeeping every Clout database keeps for itself: never copied.
_BOOKKEEPING = frozenset({"schema_migrations", PROGRESS_TABLE})
# The daily aggregates: derived from the event log, so they are not copied (both backends pack
# them the same way since PostgreSQL's migration 9, but a rebuild also serves a target whose
# schema or packing differs); the target rebuilds its own from the copied log before the run is done.
_DERIVED = frozenset(sqlite_store.DERIVED_TABLES) | frozenset(pg_store.DERIVED_TABLES)
_RUN = ""  # the progress row of the run itself (tbl = '')
_DEFERRED = "index:"  # progress rows of dropped indexes: last_key holds the SQL that recreates one
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MODULUS = 1_000_003  # integer checksums sum values modulo this, so no engine's sum overflows

Progress = Callable[[str, int, int], None]  # (table, rows copied so far, rows in all)


class TransferError(StoreError):
    """A migration that cannot start or finish; the message is one sentence."""


@dataclass(frozen=True, slots=True)
class TableReport:
    table: str
    rows: int       # rows in the source (and, once verified, in the target)
    copied: int     # rows this run copied (less than `rows` when it resumed)


@dataclass(frozen=True, slots=True)
class TransferReport:
    source: str
    target: str
    status: str     # "copied" | "resumed" | "already_done"
    tables: tuple[TableReport, ...]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def copied(self) -> int:
        return sum(t.copied for t in self.tables)


# -- schema -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    kind: str  # int | float | text | bool | blob | json | timestamp | date | numeric | other


@dataclass(slots=True)
class _Table:
    name: str
    columns: list[_Column]
    key: tuple[str, ...]              # primary key (rowid on SQLite tables without one); () = none
    parents: set[str] = field(default_factory=set)

    def kind_of(self, column: str) -> str:
        return next(c.kind for c in self.columns if c.name == column)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_kind(declared: str) -> str:
    """SQLite's type affinity of a declared column type (sqlite.org/datatype3.html, 3.1)."""
    d = declared.upper()
    if "INT" in d:
        return "int"
    if any(s in d for s in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in d or not d:
        return "blob"
    if any(s in d for s in ("REAL", "FLOA", "DOUB")):
        return "float"
    return "numeric"


_PG_KINDS = {
    "smallint": "int", "integer": "int", "bigint": "int",
    "text": "text", "character varying": "text", "character": "text",
    "double precision": "float", "real": "float", "numeric": "numeric", "boolean": "bool", "bytea": "blob",
    "json": "json", "jsonb": "json", "date": "date",
    "timestamp with time zone": "timestamp", "timestamp without time zone": "timestamp",
}


def _order(tables: dict[str, _Table]) -> list[_Table]:
    """Parents before children (foreign keys), otherwise by name."""
    done: list[_Table] = []
    seen: set[str] = set()

    def visit(t: _Table, path: frozenset[str]) -> None:
        if t.name in seen:
            return
        for p in sorted(t.parents - {t.name}):
            if p in tables and p not in path:
                visit(tables[p], path | {t.name})
        seen.add(t.name)
        done.append(t)

    for name in sorted(tables):
        visit(tables[name], frozenset())
    return done


# -- type conversion --------------------------------------------------------------------------------
# Both schemas store times and flags as integers today, so rows usually pass through untouched; a
# converter runs only for a column whose kinds differ (a later migration may give PostgreSQL real
# booleans or timestamps while SQLite keeps integers).

def _to_int(v: Any) -> int:
    if isinstance(v, datetime):
        return int(v.timestamp())
    if isinstance(v, float | Decimal) and v != int(v):
        raise ValueError(f"{v!r} is not a whole number")
    return int(v)


def _to_timestamp(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, str):
        ts = datetime.fromisoformat(v.replace("Z", "+00:00"))
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    x = float(v)
    # Epoch numbers carry no unit: seconds, milliseconds and microseconds of this era differ by
    # orders of magnitude.
    scale = 1 if abs(x) < 1e11 else 1e3 if abs(x) < 1e14 else 1e6
    return datetime.fromtimestamp(x / scale, UTC)


def _to_text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, datetime | date):
        return v.isoformat()
    return str(v)


def _to_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, str):
        return date.fromisoformat(v)
    return date.fromordinal(date(1970, 1, 1).toordinal() + int(v))  # days since the epoch


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "int": _to_int,
    "float": float,
    "bool": bool,
    "text": _to_text,
    "json": lambda v: v if isinstance(v, str) else json.dumps(v),
    "blob": lambda v: v.encode("utf-8") if isinstance(v, str) else bytes(v),
    "timestamp": _to_timestamp,
    "date": _to_date,
    "numeric": lambda v: v if isinstance(v, int | float | Decimal) else Decimal(str(v)),
}
_SQLITE_VALUES = (int, float, str, bytes)


def converters(source: _Table, target: _Table, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    """Per column: None when values pass as they are, else the function that converts one value."""
    out: list[Callable[[Any], Any] | None] = []
    for c in columns:
        s, t = source.kind_of(c), target.kind_of(c)
        out.append(None if s == t else _CONVERT.get(t, _sqlite_safe if t == "other" else None))
    return out


def _sqlite_safe(v: Any) -> Any:
    return v if isinstance(v, _SQLITE_VALUES) else _to_text(v)


def convert_rows(rows: Sequence[Sequence[Any]], funcs: Sequence[Callable[[Any], Any] | None]) -> list[tuple[Any, ...]]:
    """Rows with each non-null value passed through its column's converter (if any)."""
    if not any(funcs):
        return [tuple(r) for r in rows]
    return [tuple(v if f is None or v is None else f(v) for f, v in zip(funcs, r, strict=True)) for r in rows]


# -- checksums --------------------------------------------------------------------------------------

def _checksum_exprs(table: _Table, other: _Table, columns: Sequence[str], *, sqlite: bool) -> list[str]:
    """One aggregate per column, computed alike by both engines: integers summed modulo a prime,
    text by total length in characters, floats summed; anything else (or kinds that differ) by
    the number of non-null values."""
    exprs = []
    for c in columns:
        kind = table.kind_of(c) if table.kind_of(c) == other.kind_of(c) else "other"
        col = _q(c)
        if kind == "int":
            exprs.append(f"sum({col} % {_MODULUS})")
        elif kind == "text":
            exprs.append(f"sum(length({col}))")
        elif kind == "float":
            exprs.append(f"sum({col})")
        elif kind == "bool" and not sqlite:
            exprs.append(f"sum(CASE WHEN {col} THEN 1 ELSE 0 END)")
        else:
            exprs.append(f"count({col})")
    return exprs


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return (a or 0) == (b or 0)  # sum() of no rows is NULL on both engines
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)
    return int(a) == int(b)


# -- the two kinds of database ----------------------------------------------------------------------

_PROGRESS_DDL = (f"CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (tbl TEXT PRIMARY KEY, source TEXT NOT NULL,"
                 " last_key TEXT, rows BIGINT NOT NULL, done INTEGER NOT NULL)")
_PROGRESS_UPSERT = (f"INSERT INTO {PROGRESS_TABLE} (tbl, source, last_key, rows, done) VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (tbl) DO UPDATE SET source = excluded.source, last_key = excluded.last_key,"
                    " rows = excluded.rows, done = excluded.done")


def _keyset(table: _Table, columns: Sequence[str], after: Sequence[Any] | None, param: Callable[[int], str]) -> str:
    cols = ", ".join(_q(c) for c in columns)
    if not table.key:
        return f"SELECT {cols} FROM {_q(table.name)}"
    key = ", ".join(_q(k) for k in table.key)
    n = len(table.key)
    if after is None:
        return f"SELECT {cols} FROM {_q(table.name)} ORDER BY {key} LIMIT {param(1)}"
    where = f"({key}) > ({', '.join(param(i + 1) for i in range(n))})"
    return f"SELECT {cols} FROM {_q(table.name)} WHERE {where} ORDER BY {key} LIMIT {param(n + 1)}"


@dataclass(slots=True)
class _Progress:
    source: str
    last_key: list[Any] | None
    rows: int
    done: bool


class _Database(ABC):
    """One open database as seen by a transfer: schema, reads in key order, chunk writes."""

    label: str
    sqlite: bool

    @abstractmethod
    async def close(self) -> None: ...
    @abstractmethod
    async def version(self) -> int: ...
    @abstractmethod
    async def tables(self) -> dict[str, _Table]: ...
    @abstractmethod
    async def begin_snapshot(self) -> None: ...
    @abstractmethod
    async def read(self, table: _Table, columns: Sequence[str], after: Sequence[Any] | None,
                   limit: int) -> list[Sequence[Any]]: ...
    @abstractmethod
    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None: ...
    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]: ...
    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> None: ...
    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[None]: ...
    @abstractmethod
    async def truncate(self, tables: Sequence[str]) -> None: ...
    @abstractmethod
    async def deferrable(self, tables: Sequence[str]) -> list[tuple[str, str, str]]: ...
    @abstractmethod
    async def finish(self, tables: Sequence[_Table]) -> None: ...

    async def fetchrow(self, sql: str) -> Sequence[Any]:
        return (await self.fetch(sql))[0]

    async def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]],
                    progress: tuple[Any, ...]) -> None:
        """One chunk and its progress row, in one transaction."""
        async with self.transaction():
            await self.insert(table, columns, rows)
            await self.execute(_PROGRESS_UPSERT, *progress)

    async def progress(self) -> dict[str, _Progress]:
        await self.execute(_PROGRESS_DDL)
        rows = await self.fetch(f"SELECT tbl, source, last_key, rows, done FROM {PROGRESS_TABLE}")
        return {r[0]: _Progress(r[1], r[2] if r[0].startswith(_DEFERRED) else json.loads(r[2]) if r[2] else None,
                                int(r[3]), bool(r[4])) for r in rows}

    async def has_rows(self, tables: Sequence[str]) -> str | None:
        """The first of these tables that holds a row, or None."""
        for t in tables:
            row = await self.fetchrow(f"SELECT EXISTS (SELECT 1 FROM {_q(t)})")
            if row[0]:
                return t
        return None

    async def clear(self, tables: Sequence[str]) -> None:
        """Empty these tables and forget every earlier run (restoring what it deferred)."""
        await self.truncate(tables)
        await self.restore_deferred()
        await self.execute(f"DELETE FROM {PROGRESS_TABLE}")

    async def defer(self, tables: Sequence[str], source_id: str) -> None:
        """Drop the secondary indexes (and foreign keys) of these tables for the copy, each recorded
        with the statement that recreates it, so even a copy stopped half-way gets them back."""
        items = await self.deferrable(tables)
        if not items:
            return
        async with self.transaction():
            for name, drop, create in items:
                await self.execute(drop)
                await self.execute(_PROGRESS_UPSERT, _DEFERRED + name, source_id, create, 0, 0)

    async def restore_deferred(self) -> None:
        for tbl, state in sorted((await self.progress()).items()):
            if tbl.startswith(_DEFERRED) and state.last_key:
                async with self.transaction():
                    await self.execute(str(state.last_key))
                    await self.execute(f"DELETE FROM {PROGRESS_TABLE} WHERE tbl = $1", tbl)

    async def checksum(self, table: _Table, other: _Table, columns: Sequence[str]) -> list[Any]:
        exprs = ["count(*)", *_checksum_exprs(table, other, columns, sqlite=self.sqlite)]
        return list(await self.fetchrow(f"SELECT {', '.join(exprs)} FROM {_q(table.name)}"))


class _Sqlite(_Database):
    sqlite = True

    def __init__(self, path: str, conn: aiosqlite.Connection) -> None:
        self.label, self.path, self.conn = path, path, conn

    @classmethod
    async def connect(cls, path: str, *, readonly: bool) -> _Sqlite:
        if readonly:
            conn = await aiosqlite.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True,
                                           isolation_level=None)
        else:
            conn = await aiosqlite.connect(path, isolation_level=None)
            await conn.execute("PRAGMA synchronous=NORMAL")
            # Rows arrive parents first and already consistent; checking each one costs time.
            await conn.execute("PRAGMA foreign_keys=OFF")
        await conn.execute("PRAGMA busy_timeout=5000")
        return cls(path, conn)

    async def close(self) -> None:
        await self.conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        return [tuple(r) for r in await self.conn.execute_fetchall(sql.replace("$", "?"), args)]

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute(sql.replace("$", "?"), args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        await self.conn.execute("COMMIT")

    async def version(self) -> int:
        return int((await self.fetchrow("SELECT coalesce(max(version), 0) FROM schema_migrations"))[0])

    async def tables(self) -> dict[str, _Table]:
        names = [r[0] for r in await self.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name")]
        out = {}
        for name in names:
            info = await self.fetch(f"PRAGMA table_info({_q(name)})")
            columns = [_Column(r[1], _sqlite_kind(r[2] or "")) for r in info]
            key = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
            sql = (await self.fetchrow(f"SELECT sql FROM sqlite_master WHERE name = {_lit(name)}"))[0] or ""
            if not key and "WITHOUT ROWID" not in sql.upper():
                key = ("rowid",)
            parents = {r[2] for r in await self.fetch(f"PRAGMA foreign_key_list({_q(name)})")}
            out[name] = _Table(name, columns, key, parents)
        return out

    async def begin_snapshot(self) -> None:
        await self.conn.execute("BEGIN")
        await self.fetchrow("SELECT count(*) FROM sqlite_master")  # a deferred BEGIN snapshots at the first read

    async def read(self, table: _Table, columns: Sequence[str], after: Sequence[Any] | None,
                   limit: int) -> list[Sequence[Any]]:
        sql = _keyset(table, columns, after, lambda i: f"?{i}")
        args = (*after, limit) if after is not None else (limit,)
        return list(await self.conn.execute_fetchall(sql, args if table.key else ()))

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        await self.conn.executemany(f"INSERT INTO {_q(table)} ({', '.join(_q(c) for c in columns)})"
                                    f" VALUES ({', '.join('?' for _ in columns)})", rows)

    async def truncate(self, tables: Sequence[str]) -> None:
        # Deleted rows may hold personal data: overwrite their cells and truncate the WAL, as the
        # store's privacy deletes do.
        await self.conn.execute("PRAGMA secure_delete=ON")
        async with self.transaction():
            for t in reversed(tables):
                await self.conn.execute(f"DELETE FROM {_q(t)}")
        await self.conn.execute("PRAGMA secure_delete=OFF")
        await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def deferrable(self, tables: Sequence[str]) -> list[tuple[str, str, str]]:
        # Indexes a constraint needs (autoindexes) have no SQL and stay; foreign keys are off.
        rows = await self.fetch("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        return [(r[0], f"DROP INDEX {_q(r[0])}", r[2]) for r in rows if r[1] in tables]

    async def finish(self, tables: Sequence[_Table]) -> None:
        await self.conn.execute("PRAGMA optimize")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Postgres(_Database):
    sqlite = False

    def __init__(self, label: str, conn: asyncpg.Connection) -> None:
        self.label, self.conn = label, conn
        self._snapshot: Any = None

    @classmethod
    async def connect(cls, url: str, label: str) -> _Postgres:
        try:
            conn = await asyncpg.connect(url, timeout=15, server_settings={"application_name": "clout-migrate"})
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise TransferError(f"Cannot connect to the PostgreSQL database {label}: {_one_line(exc)}.") from exc
        return cls(label, conn)

    async def close(self) -> None:
        if self._snapshot is not None:
            await self._snapshot.rollback()
            self._snapshot = None
        await self.conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        return [tuple(r) for r in await self.conn.fetch(sql, *args)]

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self.conn.transaction():
            yield

    async def is_clout(self) -> bool:
        return bool(await self.conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"))

    async def version(self) -> int:
        return int(await self.conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    async def tables(self) -> dict[str, _Table]:
        names = [r[0] for r in await self.conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            " AND table_type = 'BASE TABLE'")]
        out = {n: _Table(n, [], ()) for n in names}
        for r in await self.conn.fetch(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND is_generated = 'NEVER' ORDER BY table_name, ordinal_position"):
            if r[0] in out:
                out[r[0]].columns.append(_Column(r[1], _PG_KINDS.get(r[2], "other")))
        keys: dict[str, list[str]] = {}
        for r in await self.conn.fetch(
                "SELECT k.table_name, k.column_name FROM information_schema.table_constraints c"
                " JOIN information_schema.key_column_usage k ON k.constraint_schema = c.constraint_schema"
                " AND k.constraint_name = c.constraint_name AND k.table_name = c.table_name"
                " WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()"
                " ORDER BY k.table_name, k.ordinal_position"):
            keys.setdefault(r[0], []).append(r[1])
        for name, key in keys.items():
            if name in out:
                out[name].key = tuple(key)
        for r in await self.conn.fetch(
                "SELECT c.table_name, u.table_name FROM information_schema.table_constraints c"
                " JOIN information_schema.constraint_column_usage u ON u.constraint_schema = c.constraint_schema"
                " AND u.constraint_name = c.constraint_name"
                " WHERE c.constraint_type = 'FOREIGN KEY' AND c.table_schema = current_schema()"):
            if r[0] in out:
                out[r[0]].parents.add(r[1])
        return out

    async def begin_snapshot(self) -> None:
        self._snapshot = self.conn.transaction(isolation="repeatable_read", readonly=True)
        await self._snapshot.start()

    async def read(self, table: _Table, columns: Sequence[str], after: Sequence[Any] | None,
                   limit: int) -> list[Sequence[Any]]:
        sql = _keyset(table, columns, after, lambda i: f"${i}")
        if not table.key:
            return list(await self.conn.fetch(sql))
        return list(await self.conn.fetch(sql, *(after or ()), limit))

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        await self.conn.copy_records_to_table(table, records=rows, columns=list(columns))

    async def truncate(self, tables: Sequence[str]) -> None:
        if tables:
            await self.conn.execute(f"TRUNCATE {', '.join(_q(t) for t in tables)} RESTART IDENTITY")

    async def deferrable(self, tables: Sequence[str]) -> list[tuple[str, str, str]]:
        # Secondary indexes (not those backing a primary key or unique constraint) and foreign keys:
        # maintaining them row by row makes COPY several times slower than building them after.
        items = []
        for r in await self.conn.fetch(
                "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
                " AND conrelid::regclass::text = ANY($1::text[])", list(tables)):
            items.append((f"{r[1]}.{r[0]}", f"ALTER TABLE {_q(r[1])} DROP CONSTRAINT {_q(r[0])}",
                          f"ALTER TABLE {_q(r[1])} ADD CONSTRAINT {_q(r[0])} {r[2]}"))
        for r in await self.conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = ANY($1::text[]) AND indexname NOT IN ("
                " SELECT conname FROM pg_constraint WHERE connamespace = current_schema()::regnamespace)",
                list(tables)):
            items.append((r[0], f"DROP INDEX {_q(r[0])}", r[1]))
        return items

    async def finish(self, tables: Sequence[_Table]) -> None:
        """Move serial/identity sequences past the copied ids, and gather planner statistics."""
        names = {t.name for t in tables}
        for r in await self.conn.fetch(
                "SELECT table_name, column_name, pg_get_serial_sequence(quote_ident(table_schema) || '.'"
                " || quote_ident(table_name), column_name) FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
                " AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')"):
            if r[0] in names and r[2] is not None:
                await self.conn.execute(
                    f"SELECT setval($1, coalesce((SELECT max({_q(r[1])}) FROM {_q(r[0])}), 0) + 1, false)", r[2])
        for t in tables:
            await self.conn.execute(f"ANALYZE {_q(t.name)}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rstrip(".")


# -- opening both ends ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _End:
    kind: str       # sqlite | postgres
    where: str      # the file path, or the URL asyncpg connects to
    label: str      # what messages show (never a password)


def _end(url: str, role: str) -> _End:
    from storage import open_store
    from storage.memory import MemoryStore
    from storage.postgres import PostgresStore, redact
    from storage.sqlite import SqliteStore

    store = open_store(url)
    if isinstance(store, SqliteStore):
        if store.path == ":memory:" or store.path.startswith("file:"):
            raise TransferError(f"The {role} must be a SQLite file or a PostgreSQL URL, not an in-memory database.")
        return _End("sqlite", store.path, store.path)
    if isinstance(store, PostgresStore):
        return _End("postgres", store.url, redact(store.url))
    assert isinstance(store, MemoryStore)
    raise TransferError(f"The {role} must be a SQLite file or a PostgreSQL URL, not memory://.")


def _same_place(a: _End, b: _End) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind == "sqlite":
        pa, pb = Path(a.where), Path(b.where)
        if pa.exists() and pb.exists():
            return pa.samefile(pb)
        return pa.resolve() == pb.resolve()
    return a.where.rstrip("/") == b.where.rstrip("/")


async def _check_sqlite_source(path: str) -> None:
    p = Path(path)
    if not p.exists():
        raise TransferError(f"There is no database at {path}.")
    if not p.is_file():
        raise TransferError(f"{path} is not a database file.")
    try:
        with p.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise TransferError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    if head != _SQLITE_MAGIC:
        raise TransferError(f"{path} is not a SQLite database.")
    await _require_clout_sqlite(path, role="source")


async def _require_clout_sqlite(path: str, *, role: str) -> None:
    try:
        db = await _Sqlite.connect(path, readonly=True)
        try:
            rows = await db.conn.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")
        finally:
            await db.close()
    except aiosqlite.Error as exc:
        raise TransferError(f"Cannot read the {role} {path}: {_one_line(exc)}.") from exc
    names = {r[0] for r in rows}
    if names and "schema_migrations" not in names:
        raise TransferError(f"{path} is not a Clout database (it has tables but no schema_migrations).")
    if not names and role == "source":
        raise TransferError(f"{path} is not a Clout database (it has no tables).")


async def _check_sqlite_target(path: str) -> None:
    p = Path(path)
    if p.exists():
        if not p.is_file():
            raise TransferError(f"{path} is not a database file.")
        if p.stat().st_size:
            with p.open("rb") as f:
                if f.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                    raise TransferError(f"{path} exists and is not a SQLite database; choose a new file.")
            await _require_clout_sqlite(path, role="target")
    elif not p.parent.is_dir():
        raise TransferError(f"The folder {p.parent} does not exist.")


async def _prepare(end: _End, *, source: bool) -> None:
    """Check one end, then open and close its store: migrations bring it to this code's schema."""
    from storage import open_store

    if end.kind == "sqlite":
        await (_check_sqlite_source(end.where) if source else _check_sqlite_target(end.where))
    else:
        db = await _Postgres.connect(end.where, end.label)
        try:
            if source and not await db.is_clout():
                raise TransferError(f"{end.label} is not a Clout database (no schema_migrations table).")
        finally:
            await db.close()
    store = open_store(end.where)
    try:
        await store.open()
    except StoreError:
        raise
    except (OSError, aiosqlite.Error, asyncpg.PostgresError) as exc:
        raise TransferError(f"Cannot open {end.label}: {_one_line(exc)}.") from exc
    await store.close()


async def _rebuild_aggregates(end: _End) -> None:
    """Open the target with its store and rebuild its daily aggregates from the copied log."""
    store = sqlite_store.SqliteStore(end.where) if end.kind == "sqlite" else pg_store.PostgresStore(end.where)
    await store.open()
    try:
        await store.rebuild_aggregates()
    finally:
        await store.close()


async def _connect(end: _End, *, readonly: bool) -> _Database:
    if end.kind == "sqlite":
        return await _Sqlite.connect(end.where, readonly=readonly)
    return await _Postgres.connect(end.where, end.label)


# -- the transfer -----------------------------------------------------------------------------------

async def transfer(source_url: str, target_url: str, *, force: bool = False, chunk_rows: int = 50_000,
                   progress: Progress | None = None,
                   clock: Callable[[], float] = time.monotonic) -> TransferReport:
    """Copy every table of the source database into the target (one SQLite, one PostgreSQL).

    Resumes an unfinished run of the same source; refuses a target holding other data unless
    `force` (which empties it first). `progress(table, rows_done, rows_total)` is called at the
    start and after each committed chunk. Raises TransferError (one sentence) for bad input, a
    refused target or a verification mismatch; a run interrupted by any exception resumes later.
    """
    started = clock()
    src_end, dst_end = _end(source_url, "source"), _end(target_url, "target")
    if _same_place(src_end, dst_end):
        raise TransferError("The source and the target are the same database.")
    if src_end.kind == dst_end.kind:
        raise TransferError("clout migrate copies between SQLite and PostgreSQL; for a copy of the same kind use "
                            "sqlite3 .backup or pg_dump.")
    await _prepare(src_end, source=True)
    await _prepare(dst_end, source=False)
    src = await _connect(src_end, readonly=True)
    try:
        dst = await _connect(dst_end, readonly=False)
        try:
            return await _Run(src, dst, chunk_rows=max(1, chunk_rows), progress=progress,
                              rebuild=partial(_rebuild_aggregates, dst_end)).go(
                force=force, started=started, clock=clock)
        finally:
            await _quietly(dst.close())
    except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError, aiosqlite.Error) as exc:
        # A lost connection, a full disk, a server shutting down: what was committed stays.
        raise TransferError(f"The copy stopped ({_one_line(exc)}); run the same command again to continue "
                            "where it stopped.") from exc
    finally:
        await _quietly(src.close())


async def _quietly(closing: Awaitable[None]) -> None:
    """Close a connection that may already be broken without hiding the error that broke it."""
    try:
        await closing
    except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError, aiosqlite.Error):
        pass


class _Run:
    def __init__(self, src: _Database, dst: _Database, *, chunk_rows: int, progress: Progress | None,
                 rebuild: Callable[[], Awaitable[None]]) -> None:
        self.src, self.dst = src, dst
        self.rebuild = rebuild  # the target's aggregates from its copied log
        self.chunk_rows = chunk_rows
        self.report = progress or (lambda table, done, total: None)

    async def _plan(self) -> tuple[list[tuple[_Table, _Table, list[str]]], list[str]]:
        """(source table, target table, columns) in copy order, and every Clout table of the target."""
        known = latest_version()
        for db in (self.src, self.dst):
            found = await db.version()
            if found != known:
                raise TransferError(f"{db.label} is at schema version {found}, this Clout at {known}; "
                                    "open it with this version of Clout first.")
        src_tables = {n: t for n, t in (await self.src.tables()).items() if n not in _BOOKKEEPING}
        dst_tables = {n: t for n, t in (await self.dst.tables()).items() if n not in _BOOKKEEPING}
        plan = []
        for t in _order({n: t for n, t in src_tables.items() if n not in _DERIVED}):
            other = dst_tables.get(t.name)
            columns = [c.name for c in t.columns]
            if other is None:
                if await self.src.has_rows([t.name]):
                    raise TransferError(f"The target has no table {t.name}, which holds rows in the source.")
                continue
            missing = [c for c in columns if c not in {x.name for x in other.columns}]
            if missing:
                raise TransferError(f"Table {t.name} of the target has no column {missing[0]}.")
            plan.append((t, other, columns))
        return plan, [t.name for t in _order(dst_tables)]

    async def go(self, *, force: bool, started: float, clock: Callable[[], float]) -> TransferReport:
        plan, target_tables = await self._plan()
        source_id = self.src.label
        done = await self.dst.progress()
        run = done.get(_RUN)
        mine = run is not None and run.source == source_id
        if mine and run is not None and run.done and not force:
            tables = tuple(TableReport(t.name, done[t.name].rows if t.name in done else 0, 0) for t, _, _ in plan)
            return TransferReport(self.src.label, self.dst.label, "already_done", tables, clock() - started)
        status = "resumed" if mine and not force else "copied"
        if force or not mine:
            busy = await self.dst.has_rows(target_tables)
            if busy is not None and not force:
                raise TransferError(f"The target {self.dst.label} already holds data (table {busy}); "
                                    "add --force to empty it first.")
            await self.dst.clear(target_tables)
            done = {}
        await self.dst.execute(_PROGRESS_UPSERT, _RUN, source_id, None, 0, 0)
        await self.dst.defer([d.name for _, d, _ in plan], source_id)

        await self.src.begin_snapshot()
        totals = {t.name: int((await self.src.fetchrow(f"SELECT count(*) FROM {_q(t.name)}"))[0]) for t, _, _ in plan}
        grand = sum(totals.values())
        moved = sum(min(p.rows, totals.get(n, 0)) for n, p in done.items() if n != _RUN)
        if status == "resumed" and moved == 0:
            status = "copied"
        reports = []
        for src_t, dst_t, columns in plan:
            self.report(src_t.name, moved, grand)
            state = done.get(src_t.name)
            if state is not None and state.source == source_id and state.done:
                reports.append(TableReport(src_t.name, totals[src_t.name], 0))
                continue
            copied, moved = await self._copy(src_t, dst_t, columns, state, source_id, moved, grand)
            reports.append(TableReport(src_t.name, totals[src_t.name], copied))
        await self.dst.restore_deferred()
        await self.dst.finish([d for _, d, _ in plan])
        await self._verify(plan, totals)
        await self.rebuild()
        await self.dst.execute(_PROGRESS_UPSERT, _RUN, source_id, None, grand, 1)
        return TransferReport(self.src.label, self.dst.label, status, tuple(reports), clock() - started)

    async def _copy(self, src_t: _Table, dst_t: _Table, columns: list[str], state: _Progress | None,
                    source_id: str, moved: int, grand: int) -> tuple[int, int]:
        funcs = converters(src_t, dst_t, columns)
        key_at = [columns.index(k) if k in columns else None for k in src_t.key]
        read_cols = columns + [k for k, i in zip(src_t.key, key_at, strict=True) if i is None]  # e.g. rowid
        key_idx = [read_cols.index(k) for k in src_t.key]
        after = state.last_key if state is not None else None
        rows_so_far = state.rows if state is not None else 0
        copied = 0
        limit = self.chunk_rows if src_t.key else 2**62
        rows = await self.src.read(src_t, read_cols, after, limit)
        while True:
            last = len(rows) < limit
            if rows:
                after = [rows[-1][i] for i in key_idx]
            # The next chunk is read while this one is written: the two databases work at once.
            ahead = None if last else asyncio.ensure_future(self.src.read(src_t, read_cols, after, limit))
            rows_so_far += len(rows)
            try:
                records = convert_rows([r[:len(columns)] for r in rows] if len(read_cols) > len(columns) else rows,
                                       funcs)
                await self.dst.write(dst_t.name, columns, records,
                                     (src_t.name, source_id, json.dumps(after, default=str) if after else None,
                                      rows_so_far, int(last)))
                copied += len(rows)
                moved += len(rows)
                self.report(src_t.name, moved, grand)
            except BaseException as exc:
                if ahead is not None:
                    ahead.cancel()
                    await asyncio.gather(ahead, return_exceptions=True)
                if isinstance(exc, asyncpg.PostgresError | aiosqlite.Error | ValueError | TypeError):
                    raise TransferError(f"Copying table {src_t.name} failed ({_one_line(exc)}); run the same "
                                        "command again to continue where it stopped.") from exc
                raise
            if ahead is None:
                return copied, moved
            rows = await ahead

    async def _verify(self, plan: list[tuple[_Table, _Table, list[str]]], totals: dict[str, int]) -> None:
        for src_t, dst_t, columns in plan:
            a = await self.src.checksum(src_t, dst_t, columns)
            b = await self.dst.checksum(dst_t, src_t, columns)
            if int(a[0]) != int(b[0]):
                raise TransferError(f"Table {src_t.name} has {int(a[0]):,} rows in the source but {int(b[0]):,} "
                                    "in the target; run with --force to copy again.")
            for col, x, y in zip(columns, a[1:], b[1:], strict=True):
                if not _same(x, y):
                    raise TransferError(f"Table {src_t.name} differs between source and target in column {col}; "
                                        "run with --force to copy again.")
