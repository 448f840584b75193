"""Configuration: environment over TOML over defaults; tokens never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.logs import RedactingFormatter

DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def test_config_defaults_without_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(env={})
    assert cfg.database == "./clout.db"
    assert cfg.refresh_interval == 30.0
    assert cfg.platforms == []


def test_config_environment_overrides_file(tmp_path: Path) -> None:
    f = tmp_path / "clout.toml"
    f.write_text('database = "from-file.db"\nrefresh_interval = 5\n')
    cfg = load_config(env={"CLOUT_DATABASE": "from-env.db", "CLOUT_TELEGRAM_TOKEN": TELEGRAM_TOKEN}, path=f)
    assert cfg.database == "from-env.db"
    assert cfg.refresh_interval == 5.0
    assert cfg.platforms == ["telegram"]


def test_config_repr_never_shows_tokens() -> None:
    cfg = load_config(env={"CLOUT_DISCORD_TOKEN": DISCORD_TOKEN, "CLOUT_TELEGRAM_TOKEN": TELEGRAM_TOKEN})
    text = repr(cfg) + str(cfg)
    assert DISCORD_TOKEN not in text and TELEGRAM_TOKEN not in text
    assert "discord_token=set" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('database = "x"\ndiscord_token = "abc"\n', "tokens belong in the environment"),
        ("refresh_interval = [", "not valid TOML"),
        ('refresh_interval = "soon"\n', "must be a number of seconds"),
        ("refresh_interval = -1\n", "must not be negative"),
    ],
)
def test_config_bad_file_is_one_clear_sentence(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "clout.toml"
    f.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(env={}, path=f)


def test_config_missing_file_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(env={"CLOUT_CONFIG": str(tmp_path / "nope.toml")})


def test_logs_redact_tokens_in_messages_and_tracebacks() -> None:
    fmt = RedactingFormatter("%(message)s", [TELEGRAM_TOKEN])
    try:
        raise RuntimeError(f"connect failed for https://api.telegram.org/bot{TELEGRAM_TOKEN}/getMe")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s and %s", (DISCORD_TOKEN, "ok"),
                                   sys.exc_info())
    out = fmt.format(record)
    assert DISCORD_TOKEN not in out and TELEGRAM_TOKEN not in out
    assert "[redacted]" in out and "ok" in out and "RuntimeError" in out


def test_config_card_processes_from_environment() -> None:
    assert load_config(env={"CLOUT_CARD_PROCESSES": "2"}).card_processes == 2
    with pytest.raises(ConfigError, match="between 0 and 8"):
        load_config(env={"CLOUT_CARD_PROCESSES": "99"})
    with pytest.raises(ConfigError, match="whole number"):
        load_config(env={"CLOUT_CARD_PROCESSES": "many"})
