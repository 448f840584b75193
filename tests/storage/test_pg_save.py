"""PostgreSQL's save at scale (issue #7): migration 10 drops the per-row foreign key checks of the
two tables a save fills; the COPY records come in key order, ranks kept; the stored scores read
back the same."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scoring.result import MemberScore
from storage.postgres import PostgresStore, _score_records
from tests.factories import BASE, COMMUNITY
from tests.postgres import fresh_schema, require_postgres
from tests.storage.test_snapshot_days import _board, _history, _schema_cut_at

_FOREIGN_KEYS = ("SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
                 " AND conrelid IN ('scores'::regclass, 'score_snapshots'::regclass) ORDER BY 1")


def test_copy_records_are_in_user_order_and_keep_each_members_position() -> None:
    members = [MemberScore(user=u, score=s, percentile=float(s), rank=r, influence=1.0, reach=1.0, resonance=1.0,
                           network=1.0, activity=1.0, algorithm="clout-v1")
               for r, (u, s) in enumerate([("zed", 90), ("amy", 80), ("Bob", 70), ("éa", 60), ("10", 50)], 1)]
    rows = _score_records(7, "all", 123, members)
    assert [r[2] for r in rows] == sorted(m.user for m in members)  # code point order, as the key
    assert {r[2]: (r[5], r[13]) for r in rows} == {m.user: (m.rank, m.rank - 1) for m in members}
    assert all(r[:2] == (7, "all") and r[12] == 123 for r in rows)


async def test_migration_10_drops_the_score_tables_foreign_keys_and_saves_go_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = require_postgres()
    async with fresh_schema(url) as schema:
        with _schema_cut_at(9, monkeypatch):
            async with PostgresStore(url, schema=schema) as old:
                await old.save_scores(COMMUNITY, BASE, "all", _board({"ann": 50, "bob": 40}))
                async with old._reading() as conn:
                    assert [r[0] for r in await conn.fetch(_FOREIGN_KEYS)] == ["score_snapshots", "scores"]
        async with PostgresStore(url, schema=schema) as store:
            async with store._reading() as conn:
                assert await conn.fetch(_FOREIGN_KEYS) == []
            await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "all", _board({"ann": 60, "cid": 45}))
            assert [(m.user, m.rank) for m in await store.leaderboard(COMMUNITY, "all", 0, 0)] == [
                ("ann", 1), ("cid", 2)]
            assert (await store.score_of(COMMUNITY, "cid")).score == 45  # type: ignore[union-attr]
            assert await _history(store, COMMUNITY, "bob") == [(0, 40)]
            assert await _history(store, COMMUNITY, "ann") == [(0, 50), (1, 60)]
