"""Shared paths and helpers for the importer tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return SHARED_DATA
