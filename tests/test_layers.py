"""The dependency direction of DESIGN.md holds: bot → storage → scoring, platform SDKs only in adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IO_MODULES = {"aiosqlite", "sqlite3", "asyncpg", "discord", "telegram", "apscheduler", "aiohttp", "httpx",
              "requests", "socket", "logging", "time", "os", "pathlib", "io"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _files("scoring"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_scoring_is_pure(path: Path) -> None:
    bad = _imports(path) & (IO_MODULES | {"storage", "bot"})
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", _files("storage"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_storage_never_imports_bot_or_platforms(path: Path) -> None:
    bad = _imports(path) & {"bot", "discord", "telegram"}
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", _files("bot"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_platform_sdks_only_in_their_adapter(path: Path) -> None:
    rel = path.relative_to(ROOT / "bot").parts
    imported = _imports(path)
    for sdk in ("discord", "telegram"):
        if sdk in imported:
            assert rel[0] == sdk, f"{path} imports {sdk} outside bot/{sdk}/"


@pytest.mark.parametrize("path", _files("bot") + _files("scoring"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_sql_only_in_storage(path: Path) -> None:
    text = path.read_text(encoding="utf-8").upper()
    for marker in ("CREATE TABLE", "INSERT INTO", "DELETE FROM"):
        assert marker not in text, f"{path} contains SQL ({marker})"


@pytest.mark.parametrize("path", _files("scoring"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_scoring_never_reads_the_clock(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time(", "time.monotonic("):
        assert call not in text, f"{path} reads the clock ({call})"
