"""Session-wide test hooks: say once whether the PostgreSQL-backed runs take place."""

from __future__ import annotations

import pytest

from tests.postgres import postgres_url


def pytest_report_header(config: pytest.Config) -> str:
    url, why = postgres_url()
    return "PostgreSQL tests: running" if url else f"PostgreSQL tests skipped: {why}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    url, why = postgres_url()
    if url is None:
        terminalreporter.write_line(f"PostgreSQL tests skipped: {why}", yellow=True)


@pytest.fixture(autouse=True, scope="session")
def _temp_files_under_pytest(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Temporary files the code under test makes for the user to keep (the console's saved score
    cards, `tempfile.mkdtemp`) go under pytest's own temporary directory, which pytest prunes,
    instead of piling up in the system's."""
    import tempfile

    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempfile"))
    yield
    tempfile.tempdir = before
