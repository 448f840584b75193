"""`clout migrate` through Click's runner: the JSON summary, refusals, and bad input as one sentence."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.storage.pg_target import pg_fixture, target_fixture  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "bot" / "samples" / "sample.jsonl"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_sentence(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "clout.db"
    code, _, err = run("import", "events", str(SAMPLE), "--db", str(path))
    assert code == 0, err
    return path


def test_cli_migrate_json_summary_then_already_done(db: Path, target: str) -> None:
    code, out, err = run("migrate", "--from", f"sqlite:///{db}", "--to", target, "--json", "--chunk-rows", "300")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"from", "to", "status", "tables", "rows", "copied", "seconds", "rows_per_second"}
    assert data["status"] == "copied" and data["from"] == str(db)
    messages = next(t for t in data["tables"] if t["table"] == "messages")
    assert messages == {"table": "messages", "rows": 1200, "copied": 1200}
    assert data["rows"] == data["copied"] == sum(t["rows"] for t in data["tables"])
    code, out, err = run("migrate", "--from", str(db), "--to", target)
    assert code == 0, err
    assert out.startswith("Already done:") and f"({data['rows']:,} rows)" in out


def test_cli_migrate_takes_the_source_from_clout_database(db: Path, target: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUT_DATABASE", str(db))
    code, out, err = run("migrate", "--to", target)
    assert code == 0, err
    assert out.startswith("Copied ") and "row counts and checksums match" in out


def test_cli_migrate_refuses_a_non_empty_target_without_force(db: Path, tmp_path: Path, target: str) -> None:
    other = tmp_path / "other.db"
    assert run("import", "events", str(ROOT / "tests" / "fixtures" / "importers" / "events.jsonl"),
               "--db", str(other))[0] == 0
    assert run("migrate", "--from", str(other), "--to", target)[0] == 0
    code, _, err = run("migrate", "--from", str(db), "--to", target)
    assert code == 2
    assert "already holds data" in one_sentence(err) and "--force" in err
    code, out, err = run("migrate", "--from", str(db), "--to", target, "--force", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "copied"


def test_cli_migrate_missing_source_file(tmp_path: Path) -> None:
    code, _, err = run("migrate", "--from", str(tmp_path / "nope.db"), "--to", "postgresql://u@/db?host=/nonexistent")
    assert code == 2
    assert "There is no database at" in one_sentence(err)
    assert not (tmp_path / "nope.db").exists()


def test_cli_migrate_source_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello, not a database\n")
    code, _, err = run("migrate", "--from", str(path), "--to", "postgresql://u@/db?host=/nonexistent")
    assert code == 2
    assert "is not a SQLite database" in one_sentence(err)


def test_cli_migrate_source_that_is_another_applications_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE recipes (name TEXT)")
    con.commit()
    con.close()
    code, _, err = run("migrate", "--from", str(path), "--to", "postgresql://u@/db?host=/nonexistent")
    assert code == 2
    assert "is not a Clout database" in one_sentence(err)
    con = sqlite3.connect(path)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    con.close()
    assert tables == ["recipes"]  # nothing was created in it


def test_cli_migrate_source_directory(tmp_path: Path) -> None:
    code, _, err = run("migrate", "--from", str(tmp_path), "--to", "postgresql://u@/db?host=/nonexistent")
    assert code == 2
    assert "is not a database file" in one_sentence(err)


def test_cli_migrate_unreachable_server_writes_nothing(db: Path) -> None:
    code, _, err = run("migrate", "--from", str(db), "--to", "postgresql://clout:secret@/clout?host=/nonexistent-dir")
    assert code == 2
    line = one_sentence(err)
    assert "Cannot connect to the PostgreSQL database" in line
    assert "secret" not in line and "***" in line


@pytest.mark.parametrize(("target", "needle"), [
    ("mysql://u@h/db", "not supported"),
    ("memory://", "not memory://"),
    ("sqlite:///:memory:", "in-memory"),
    ("sqlite://relative.db", "three slashes"),
])
def test_cli_migrate_bad_target_urls(db: Path, target: str, needle: str) -> None:
    code, _, err = run("migrate", "--from", str(db), "--to", target)
    assert code == 2
    assert needle in one_sentence(err)


def test_cli_migrate_same_source_and_target(db: Path) -> None:
    code, _, err = run("migrate", "--from", str(db), "--to", f"sqlite:///{db}")
    assert code == 2
    assert "the same database" in one_sentence(err)


def test_cli_migrate_between_two_sqlite_files_points_to_backup(db: Path, tmp_path: Path) -> None:
    code, _, err = run("migrate", "--from", str(db), "--to", str(tmp_path / "copy.db"))
    assert code == 2
    assert "between SQLite and PostgreSQL" in one_sentence(err)
    assert not (tmp_path / "copy.db").exists()


def test_cli_migrate_postgres_source_without_clout_tables(target: str, tmp_path: Path) -> None:
    code, _, err = run("migrate", "--from", target, "--to", str(tmp_path / "back.db"))
    assert code == 2
    assert "is not a Clout database" in one_sentence(err)
    assert not (tmp_path / "back.db").exists()


def test_cli_migrate_to_a_sqlite_file_of_another_application(db: Path, target: str, tmp_path: Path) -> None:
    assert run("migrate", "--from", str(db), "--to", target)[0] == 0
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n")
    code, _, err = run("migrate", "--from", target, "--to", str(path))
    assert code == 2
    assert "is not a SQLite database" in one_sentence(err)
    assert path.read_text() == "my notes\n"
