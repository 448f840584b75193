"""Configuration: environment variables over an optional TOML file over defaults. Tokens only from the environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scoring.errors import UserError

__all__ = ["Config", "ConfigError", "load_config"]


class ConfigError(UserError):
    """A configuration value is missing or invalid."""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything `clout run` needs. `repr()` never shows a token."""

    database: str = "./clout.db"
    refresh_interval: float = 30.0
    log_level: str = "INFO"
    discord_token: str | None = field(default=None, repr=False)
    telegram_token: str | None = field(default=None, repr=False)
    console_community: str = "console:lobby"
    card_processes: int = 0  # 0: render score cards in a thread; 1+: in worker processes (busy bots)

    @property
    def platforms(self) -> list[str]:
        """Platforms whose token is configured."""
        return [name for name, token in (("discord", self.discord_token), ("telegram", self.telegram_token)) if token]

    def __repr__(self) -> str:  # dataclass repr=False on fields keeps tokens out; say whether they are set
        return (f"Config(database={self.database!r}, refresh_interval={self.refresh_interval}, "
                f"log_level={self.log_level!r}, discord_token={'set' if self.discord_token else 'unset'}, "
                f"telegram_token={'set' if self.telegram_token else 'unset'}, "
                f"console_community={self.console_community!r}, card_processes={self.card_processes})")


_ENV = {
    "CLOUT_DATABASE": "database",
    "CLOUT_REFRESH_INTERVAL": "refresh_interval",
    "CLOUT_LOG_LEVEL": "log_level",
    "CLOUT_CONSOLE_COMMUNITY": "console_community",
    "CLOUT_CARD_PROCESSES": "card_processes",
}
_FILE_KEYS = {"database", "refresh_interval", "log_level", "console_community", "card_processes"}


def load_config(env: Mapping[str, str] | None = None, path: Path | None = None) -> Config:
    """Read the TOML file (`path`, else $CLOUT_CONFIG, else ./clout.toml if present), then the environment."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    file = path or (Path(env["CLOUT_CONFIG"]) if env.get("CLOUT_CONFIG") else None)
    if file is None and Path("clout.toml").is_file():
        file = Path("clout.toml")
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"The configuration file {file} does not exist.")
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The configuration file {file} is not valid TOML ({exc}).") from None
        unknown = set(data) - _FILE_KEYS
        if unknown:
            hint = " (tokens belong in the environment)" if any("token" in k for k in unknown) else ""
            raise ConfigError(f"Unknown key(s) in {file}: {', '.join(sorted(unknown))}{hint}.")
        values.update(data)
    for var, key in _ENV.items():
        if env.get(var):
            values[key] = env[var]
    try:
        interval = float(values.get("refresh_interval", 30.0))
    except (TypeError, ValueError):
        raise ConfigError("refresh_interval (CLOUT_REFRESH_INTERVAL) must be a number of seconds.") from None
    if interval < 0:
        raise ConfigError("refresh_interval (CLOUT_REFRESH_INTERVAL) must not be negative.")
    values["refresh_interval"] = interval
    try:
        values["card_processes"] = int(values.get("card_processes", 0))
    except (TypeError, ValueError):
        raise ConfigError("card_processes (CLOUT_CARD_PROCESSES) must be a whole number.") from None
    if not 0 <= values["card_processes"] <= 8:
        raise ConfigError("card_processes (CLOUT_CARD_PROCESSES) must be between 0 and 8.")
    return Config(
        **values,
        discord_token=env.get("CLOUT_DISCORD_TOKEN") or None,
        telegram_token=env.get("CLOUT_TELEGRAM_TOKEN") or None,
    )
