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
    # Discord sharding: None = one plain Client; "auto" = AutoShardedClient with Discord's count;
    # a number = AutoShardedClient with that many shards. `discord_shard_ids` = the shards this process runs.
    discord_shards: str | None = None
    discord_shard_ids: tuple[int, ...] | None = None
    # Telegram: polling unless a public HTTPS URL is given; then a webhook server listens locally.
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: str = "127.0.0.1:8443"
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    scheduler: bool = True  # run the weekly-summary scheduler in this process (when it is the leader)
    # Several processes on one PostgreSQL database: a follower tries to become the leader, and the
    # leader checks its lock, every `leader_poll` seconds (a dead leader is replaced within that).
    leader_poll: float = 10.0
    headless: bool = False  # no console even without a platform token: run until SIGTERM/SIGINT

    @property
    def platforms(self) -> list[str]:
        """Platforms whose token is configured."""
        return [name for name, token in (("discord", self.discord_token), ("telegram", self.telegram_token)) if token]

    def __repr__(self) -> str:  # dataclass repr=False on fields keeps tokens out; say whether they are set
        return (f"Config(database={self.database!r}, refresh_interval={self.refresh_interval}, "
                f"log_level={self.log_level!r}, discord_token={'set' if self.discord_token else 'unset'}, "
                f"telegram_token={'set' if self.telegram_token else 'unset'}, "
                f"console_community={self.console_community!r}, card_processes={self.card_processes}, "
                f"discord_shards={self.discord_shards!r}, discord_shard_ids={self.discord_shard_ids!r}, "
                f"telegram_webhook_url={self.telegram_webhook_url!r}, "
                f"telegram_webhook_listen={self.telegram_webhook_listen!r}, scheduler={self.scheduler}, "
                f"leader_poll={self.leader_poll}, headless={self.headless})")


_ENV = {
    "CLOUT_DATABASE": "database",
    "CLOUT_REFRESH_INTERVAL": "refresh_interval",
    "CLOUT_LOG_LEVEL": "log_level",
    "CLOUT_CONSOLE_COMMUNITY": "console_community",
    "CLOUT_CARD_PROCESSES": "card_processes",
    "CLOUT_DISCORD_SHARDS": "discord_shards",
    "CLOUT_DISCORD_SHARD_IDS": "discord_shard_ids",
    "CLOUT_TELEGRAM_WEBHOOK_URL": "telegram_webhook_url",
    "CLOUT_TELEGRAM_WEBHOOK_LISTEN": "telegram_webhook_listen",
    "CLOUT_SCHEDULER": "scheduler",
    "CLOUT_LEADER_POLL": "leader_poll",
    "CLOUT_HEADLESS": "headless",
}
_FILE_KEYS = {"database", "refresh_interval", "log_level", "console_community", "card_processes",
              "discord_shards", "discord_shard_ids", "telegram_webhook_url", "telegram_webhook_listen", "scheduler",
              "leader_poll", "headless"}


def _shard_ids(value: object) -> tuple[int, ...] | None:
    """"0-3", "0,2,5", [0, 1] or None -> sorted unique shard ids."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, list | tuple):
            ids = {int(v) for v in value}
        else:
            ids = set()
            for part in str(value).split(","):
                lo, sep, hi = part.strip().partition("-")
                ids.update(range(int(lo), int(hi) + 1) if sep else (int(lo),))
    except (TypeError, ValueError):
        ids = set()
    if not ids or min(ids) < 0:
        raise ConfigError("discord_shard_ids (CLOUT_DISCORD_SHARD_IDS) must be shard numbers like 0-3 or 0,2,5.")
    return tuple(sorted(ids))


def _flag(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be on or off.")


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
    shards = values.get("discord_shards")
    if shards is not None:
        shards = str(shards).strip().lower()
        if shards != "auto" and not (shards.isdigit() and int(shards) >= 1):
            raise ConfigError("discord_shards (CLOUT_DISCORD_SHARDS) must be auto or a number of shards.")
        values["discord_shards"] = shards
    values["discord_shard_ids"] = _shard_ids(values.get("discord_shard_ids"))
    if values["discord_shard_ids"] is not None:
        if shards is None or shards == "auto":
            raise ConfigError("discord_shard_ids (CLOUT_DISCORD_SHARD_IDS) needs a shard count in "
                              "discord_shards (CLOUT_DISCORD_SHARDS).")
        if max(values["discord_shard_ids"]) >= int(shards):
            raise ConfigError(f"discord_shard_ids (CLOUT_DISCORD_SHARD_IDS) must be below the shard count {shards}.")
    url = values.get("telegram_webhook_url")
    if url is not None and not str(url).startswith("https://"):
        raise ConfigError("telegram_webhook_url (CLOUT_TELEGRAM_WEBHOOK_URL) must be an https:// URL.")
    values["scheduler"] = _flag(values.get("scheduler", True), "scheduler (CLOUT_SCHEDULER)")
    values["headless"] = _flag(values.get("headless", False), "headless (CLOUT_HEADLESS)")
    try:
        values["leader_poll"] = float(values.get("leader_poll", 10.0))
    except (TypeError, ValueError):
        values["leader_poll"] = -1.0
    if not 0.05 <= values["leader_poll"] <= 60:
        raise ConfigError("leader_poll (CLOUT_LEADER_POLL) must be a number of seconds between 0.05 and 60.")
    return Config(
        **values,
        discord_token=env.get("CLOUT_DISCORD_TOKEN") or None,
        telegram_token=env.get("CLOUT_TELEGRAM_TOKEN") or None,
        telegram_webhook_secret=env.get("CLOUT_TELEGRAM_WEBHOOK_SECRET") or None,
    )
