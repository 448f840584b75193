"""The `clout` CLI through Click's runner: exit codes, messages and the documented JSON shapes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "bot" / "samples" / "sample.jsonl"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "clout.db"
    code, out, err = run("import", "events", str(SAMPLE), "--db", str(path))
    assert code == 0, err
    return str(path)


def _table_counts(path: str) -> dict[str, int]:
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: con.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


def test_cli_import_reports_events_and_is_idempotent(tmp_path: Path) -> None:
    path = str(tmp_path / "c.db")
    code, out, _ = run("import", "events", str(SAMPLE), "--db", path, "--json")
    assert code == 0
    first = json.loads(out)["files"][0]
    assert first["events"] == sum(1 for line in SAMPLE.read_text().splitlines() if line.strip())
    assert first["new"] == first["events"]
    assert first["communities"] == ["events:sample"]
    before = _table_counts(path)
    code, out, _ = run("import", "events", str(SAMPLE), "--db", path, "--json")
    assert code == 0
    assert json.loads(out)["files"][0]["new"] == 0
    assert _table_counts(path) == before


def test_cli_communities_lists_the_import(db: str) -> None:
    code, out, _ = run("communities", "--db", db, "--json")
    assert code == 0
    rows = json.loads(out)["communities"]
    assert [r["community"] for r in rows] == ["events:sample"]
    assert rows[0]["messages"] > 1000
    assert rows[0]["last_event"].startswith("2026-1")


def test_cli_leaderboard_json_shape(db: str) -> None:
    code, out, err = run("leaderboard", "--community", "events:sample", "--as-of", "latest", "--db", db, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {"community", "as_of", "algorithm", "entries"} <= set(data)
    assert data["community"] == "events:sample"
    assert data["algorithm"].startswith("clout-v")
    entries = data["entries"]
    assert len(entries) == 10
    assert [e["rank"] for e in entries] == list(range(1, 11))
    scores = [e["score"] for e in entries]
    assert scores == sorted(scores, reverse=True)
    for e in entries:
        assert set(e) == {"rank", "user", "name", "score", "percentile", "components"}
        assert set(e["components"]) == {"reach", "resonance", "network", "activity"}
        assert 1 <= e["score"] <= 100
        assert e["user"].startswith("u")  # the id as it appears in the source file
    assert "u0" not in {e["user"] for e in entries}  # the sample's bot is never ranked


def test_cli_leaderboard_limit_zero_lists_everyone(db: str) -> None:
    code, out, _ = run("leaderboard", "-c", "events:sample", "--as-of", "latest", "--limit", "0", "--db", db, "--json")
    data = json.loads(out)
    assert code == 0
    assert len(data["entries"]) == data["members"] > 10


def test_cli_leaderboard_old_export_names_last_event(db: str) -> None:
    code, out, err = run("leaderboard", "-c", "events:sample", "--as-of", "2027-06-01", "--db", db)
    assert code == 2
    assert "no events in the 90 days before 2027-06-01" in err
    assert "last event was at 2026-11-0" in err


def test_cli_leaderboard_period_week_scores_fewer_members(db: str) -> None:
    _, out_all, _ = run("leaderboard", "-c", "events:sample", "--as-of", "latest", "--limit", "0", "--db", db, "--json")
    _, out_week, _ = run("leaderboard", "-c", "events:sample", "--as-of", "latest", "--period", "week",
                         "--limit", "0", "--db", db, "--json")
    assert json.loads(out_week)["members"] < json.loads(out_all)["members"]


def test_cli_as_of_ignores_later_events(db: str) -> None:
    _, early, _ = run("leaderboard", "-c", "events:sample", "--as-of", "2026-09-08T06:00:00Z", "--limit", "0", "--db", db, "--json")
    _, late, _ = run("leaderboard", "-c", "events:sample", "--as-of", "latest", "--limit", "0", "--db", db, "--json")
    assert json.loads(early)["members"] < json.loads(late)["members"]


def test_cli_score_json_has_breakdown_and_explanation(db: str) -> None:
    _, out, _ = run("leaderboard", "-c", "events:sample", "--as-of", "latest", "--db", db, "--json")
    top = json.loads(out)["entries"][0]
    code, out, err = run("score", top["user"], "-c", "events:sample", "--as-of", "latest", "--db", db, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["user"] == top["user"]
    assert data["score"] == top["score"]
    assert data["rank"] == 1
    assert data["stats"]["distinct_responders"] > 0
    assert data["change"]["since"] < data["as_of"]
    assert data["explanation"] and all(isinstance(x, str) for x in data["explanation"])


def test_cli_score_by_display_name(db: str) -> None:
    code, out, _ = run("score", "Nejura3", "-c", "events:sample", "--as-of", "latest", "--db", db, "--json")
    assert code == 0
    assert json.loads(out)["user"] == "u3"


def test_cli_score_text_output(db: str) -> None:
    code, out, _ = run("score", "u3", "-c", "events:sample", "--as-of", "latest", "--db", db)
    assert code == 0
    assert "/100" in out and "Reach" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("score", "nobody", "-c", "events:sample"), "There is no member 'nobody'"),
        (("leaderboard", "-c", "events:nowhere"), "There is no community 'events:nowhere'"),
        (("leaderboard", "-c", "nocolon"), "is not a community id"),
        (("leaderboard", "-c", "events:sample", "--as-of", "yesterday-ish"), "is not a time"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_sentence(db: str, args: tuple[str, ...], message: str) -> None:
    code, out, err = run(*args, "--db", db)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_cli_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run("communities", "--db", str(tmp_path / "none.db"))
    assert code == 2
    assert "There is no database at" in err
    assert not (tmp_path / "none.db").exists()


def test_cli_database_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.db"
    monkeypatch.setenv("CLOUT_DATABASE", f"sqlite:///{path}")
    code, _, _ = run("import", "events", str(SAMPLE))
    assert code == 0
    assert path.exists()


def test_cli_failed_import_leaves_database_unchanged(db: str, tmp_path: Path) -> None:
    before = _table_counts(db)
    broken = tmp_path / "broken.jsonl"
    good = SAMPLE.read_text().splitlines()[:50]
    broken.write_text("\n".join([*(g.replace('"sample"', '"other"') for g in good), "{not json"]) + "\n")
    code, out, err = run("import", "events", str(broken), "--db", db)
    assert code == 2
    assert "broken.jsonl" in err and "line 51" in err
    assert "Traceback" not in err
    assert _table_counts(db) == before


def test_cli_missing_file(tmp_path: Path) -> None:
    code, _, err = run("import", "discord", str(tmp_path / "nope.json"), "--db", str(tmp_path / "x.db"))
    assert code == 2
    assert "no such file" in err


def test_cli_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("import", "slack", str(SAMPLE), "--db", str(tmp_path / "x.db"))
    assert code == 2
    assert "slack" in err


def test_cli_refuses_database_from_newer_clout(db: str) -> None:
    con = sqlite3.connect(db)
    con.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
    con.commit()
    con.close()
    before = Path(db).read_bytes()
    code, out, err = run("communities", "--db", db)
    assert code == 2
    assert "newer Clout" in err
    assert "Traceback" not in err + out
    assert Path(db).read_bytes() == before


def test_cli_import_real_discord_export(tmp_path: Path) -> None:
    export = ROOT.parent / "shared" / "data" / "discord-tyrrrz-open-source" / "discord-chat-exporter-channel.json"
    if not export.exists():
        pytest.skip("../shared/data is absent")
    db = str(tmp_path / "d.db")
    code, out, err = run("import", "discord", str(export), "--db", db, "--json")
    assert code == 0, err
    community = json.loads(out)["files"][0]["communities"][0]
    assert community == "discord:869237470565392384"
    code, out, err = run("leaderboard", "-c", community, "--as-of", "latest", "--db", db, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["entries"][0]["user"].isdigit()  # the Discord author id as in the file
    assert data["as_of"].startswith("2021-10")
    code, _, err = run("leaderboard", "-c", community, "--db", db)  # as of now: the export is old
    assert code == 2 and "last event was at 2021-10" in err
