"""`clout discord sync`: the tree uploaded to a server or globally, with localizations, admin-only
/settings and guild-only commands; plain `clout` never imports discord.py."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from bot.cli import main
from bot.config import Config
from bot.discord.adapter import sync_commands
from tests.discord.conftest import GUILD
from tests.discord.fake import APP_ID, FakeDiscord

COMMAND_NAMES = {"score", "leaderboard", "privacy", "optout", "optin", "forgetme", "mydata", "weekly", "link",
                 "settings", "help", "Clout score"}


async def test_sync_to_one_server(fake: FakeDiscord) -> None:
    count = await sync_commands(Config(discord_token="fake-token"), GUILD)
    [put] = [c for c in fake.calls if c.method == "PUT"]
    assert put.path == f"/applications/{APP_ID}/guilds/{GUILD}/commands"
    assert count == len(put.json) == 12
    assert {c["name"] for c in put.json} == COMMAND_NAMES
    assert not any(c.path.startswith("/gateway") for c in fake.calls)  # no gateway connection for a sync


async def test_sync_global_payload_is_localized_and_restricted(fake: FakeDiscord) -> None:
    await sync_commands(Config(discord_token="fake-token"))
    [put] = [c for c in fake.calls if c.method == "PUT"]
    assert put.path == f"/applications/{APP_ID}/commands"
    commands = {c["name"]: c for c in put.json}
    settings = commands["settings"]
    assert int(settings["default_member_permissions"]) == 1 << 5  # Manage Server
    assert settings["contexts"] == [0]  # servers only
    assert settings["description_localizations"]["de"].startswith("Community-Einstellungen")
    board = commands["leaderboard"]
    period = next(o for o in board["options"] if o["name"] == "period")
    assert period["name_localizations"] == {"de": "zeitraum"}
    assert [c["value"] for c in period["choices"]] == ["week", "month", "all"]
    assert period["choices"][0]["name_localizations"] == {"de": "letzte 7 Tage"}
    assert "name_localizations" not in board or not board["name_localizations"]  # command names stay English
    menu = commands["Clout score"]
    assert menu["type"] == 2 and menu["name_localizations"]["de"]
    score = commands["score"]
    member = next(o for o in score["options"] if o["name"] == "member")
    assert member["type"] == 6 and member["name_localizations"] == {"de": "mitglied"}
    value = next(o for o in settings["options"] if o["name"] == "value")
    assert value["autocomplete"] is True


def test_cli_sync_without_token_says_what_to_set(monkeypatch) -> None:
    monkeypatch.delenv("CLOUT_DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("CLOUT_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["discord", "sync"])
    assert result.exit_code == 2
    assert "CLOUT_DISCORD_TOKEN" in result.stderr


def test_plain_clout_does_not_import_discord() -> None:
    code = "import sys, bot.cli, bot.app; sys.exit(1 if 'discord' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
