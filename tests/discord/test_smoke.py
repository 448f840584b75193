"""The private discord.py attributes the fake relies on still exist (discord.py is pinned to 2.7)."""

from __future__ import annotations

import inspect

import discord
import yarl

from bot.discord.adapter import DiscordAdapter
from tests.discord.conftest import Harness


def test_private_attributes_patched_by_the_tests_exist() -> None:
    assert discord.http.Route.BASE.startswith("https://discord.com/api/v")
    assert isinstance(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY, yarl.URL)
    assert "initial" in inspect.signature(discord.Client.before_identify_hook).parameters
    assert discord.__version__.startswith("2.7")


async def test_adapter_connects_and_sees_both_servers(bot: Harness) -> None:
    assert isinstance(bot.adapter, DiscordAdapter)
    assert sorted(g.name for g in bot.adapter.client.guilds) == ["Other Server", "Test Server"]
    assert bot.fake.identified == [(0, 1)]
    intents = discord.Intents._from_value(bot.fake.identify_intents[0])
    assert not (intents.message_content or intents.members or intents.presences)
    assert intents.guild_messages and intents.guild_reactions


async def test_live_message_parser_is_installed(bot: Harness) -> None:
    parsers = bot.adapter.client._connection.parsers
    assert parsers["MESSAGE_CREATE"] == bot.adapter._parse_message_create
    assert "MESSAGE_REACTION_ADD" in parsers and "INTERACTION_CREATE" in parsers
