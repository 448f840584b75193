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
