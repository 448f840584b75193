"""The app-command tree: one slash command per command of the command layer, plus the "Clout score"
user context menu. Each callback only turns its options into arguments, calls
`Commands.dispatch` and renders the Reply (through `Responder`); all behaviour stays in bot/chat.

Names and descriptions are `locale_str`s whose message is an English msgid; `CatalogTranslator`
answers Discord's German locale from the gettext catalog. Slash command *names* stay English in
every language: every reply and help text says "/optin", "/forgetme confirm", so a German
`/anmelden` would contradict them. Option names, choices, descriptions and the context menu are
translated.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Protocol
from zoneinfo import available_timezones

import discord
from discord import app_commands
from discord.app_commands import Choice, locale_str

from bot.chat.commands import COMMANDS, N_
from bot.i18n import SUPPORTED, translator

__all__ = ["CatalogTranslator", "Responder", "build_tree"]

_NAME = re.compile(r"^[-_\w]{1,32}$")


def _l(message: str) -> locale_str:
    return locale_str(message)


class CatalogTranslator(app_commands.Translator):
    """Discord's localizations from bot/locale: German now, any language added to bot.i18n later."""

    async def translate(self, string: locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        lang = locale.value.split("-")[0].lower()
        if lang not in SUPPORTED or lang == "en":
            return None
        location = context.location
        if location is app_commands.TranslationContextLocation.command_name and not isinstance(
                context.data, app_commands.ContextMenu):
            return None  # slash command names stay as the replies spell them (see the module docstring)
        text = translator(lang).gettext(string.message)
        if text == string.message:
            return None
        if location is app_commands.TranslationContextLocation.parameter_name:
            text = text.lower().replace(" ", "_")
            if not _NAME.match(text):
                return None
        if location in (app_commands.TranslationContextLocation.command_description,
                        app_commands.TranslationContextLocation.parameter_description):
            return text[:100]
        return text


class Responder(Protocol):
    """What the tree needs from the adapter: run a command for an interaction and answer it."""

    async def run(self, interaction: discord.Interaction, name: str, args: list[str]) -> None: ...

    def resolve_channel(self, interaction: discord.Interaction, value: str) -> str: ...


_PERIODS = [Choice(name=_l(N_("last 7 days")), value="week"), Choice(name=_l(N_("last 30 days")), value="month"),
            Choice(name=_l(N_("last 90 days")), value="all")]
_SETTING_CHOICES = [
    Choice(name=_l(N_("summary channel")), value="channel"), Choice(name=_l(N_("weekday")), value="weekday"),
    Choice(name=_l(N_("hour")), value="hour"), Choice(name=_l(N_("time zone")), value="timezone"),
    Choice(name=_l(N_("language")), value="language"), Choice(name=_l(N_("exclude a channel")), value="exclude"),
    Choice(name=_l(N_("include a channel again")), value="include"), Choice(name=_l(N_("mode")), value="mode"),
]
_VALUES = {
    "weekday": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "hour": [str(h) for h in range(24)],
    "language": ["en", "de"],
    "mode": ["open", "optin"],
    "channel": ["here", "off"],
    "exclude": ["here"],
    "include": ["here"],
}


@cache
def _zones() -> dict[str, str]:
    return {z.casefold(): z for z in available_timezones()}


async def _setting_values(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """Suggestions for /settings value, depending on the chosen setting."""
    setting = getattr(interaction.namespace, "setting", None)
    typed = current.strip().casefold()
    if setting == "timezone":
        found = sorted(z for key, z in _zones().items() if typed in key)
        return [Choice(name=z, value=z) for z in found[:25]]
    values = _VALUES.get(setting or "", [])
    return [Choice(name=v, value=v) for v in values if v.startswith(typed)][:25]


def build_tree(client: discord.Client, responder: Responder) -> app_commands.CommandTree[discord.Client]:
    """The command tree of the Clout client (registered in memory; `clout discord sync` uploads it)."""
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    run = responder.run

    @tree.command(name="score", description=_l(N_("Your Clout score, or a member's; 'global' for all your linked accounts.")))
    @app_commands.rename(member=_l(N_("member")), scope=_l(N_("scope")))
    @app_commands.describe(member=_l(N_("The member whose score you want to see")),
                           scope=_l(N_("This community, or all your linked accounts")))
    @app_commands.choices(scope=[Choice(name=_l(N_("this community")), value="here"),
                                 Choice(name=_l(N_("all my accounts")), value="global")])
    async def score(interaction: discord.Interaction, member: discord.User | None = None,
                    scope: str | None = None) -> None:
        if scope == "global":
            args = ["global"]
        else:
            args = [str(member.id)] if member is not None else []
        await run(interaction, "score", args)

    @tree.command(name="leaderboard", description=_l(N_("The community's top members by Clout score.")))
    @app_commands.guild_only()
    @app_commands.rename(period=_l(N_("period")), page=_l(N_("page")))
    @app_commands.describe(period=_l(N_("Which time window to rank")), page=_l(N_("Page number, from 1")))
    @app_commands.choices(period=_PERIODS)
    async def leaderboard(interaction: discord.Interaction, period: str = "all",
                          page: app_commands.Range[int, 1, 100_000] = 1) -> None:
        await run(interaction, "leaderboard", [period, str(page)])

    @tree.command(name="privacy", description=_l(N_("Hide yourself from leaderboards and summaries, or show yourself again.")))
    @app_commands.guild_only()
    @app_commands.rename(choice=_l(N_("choice")))
    @app_commands.describe(choice=_l(N_("hide or show; leave empty to see your current setting")))
    @app_commands.choices(choice=[Choice(name=_l(N_("hide me")), value="hide"),
                                  Choice(name=_l(N_("show me")), value="show")])
    async def privacy(interaction: discord.Interaction, choice: str | None = None) -> None:
        await run(interaction, "privacy", [choice] if choice else [])

    @tree.command(name="optout", description=_l(N_("Stop being scored here and delete your data in this community.")))
    @app_commands.guild_only()
    async def optout(interaction: discord.Interaction) -> None:
        await run(interaction, "optout", [])

    @tree.command(name="optin", description=_l(N_("Be scored in this community (again).")))
    @app_commands.guild_only()
    async def optin(interaction: discord.Interaction) -> None:
        await run(interaction, "optin", [])

    @tree.command(name="forgetme", description=_l(N_("Delete everything Clout knows about you, everywhere (asks to confirm).")))
    @app_commands.rename(confirm=_l(N_("confirm")))
    @app_commands.describe(confirm=_l(N_("Confirm the deletion you asked for in the last 5 minutes")))
    async def forgetme(interaction: discord.Interaction, confirm: bool = False) -> None:
        await run(interaction, "forgetme", ["confirm"] if confirm else [])

    @tree.command(name="mydata", description=_l(N_("Everything Clout stores about you, as a JSON file.")))
    async def mydata(interaction: discord.Interaction) -> None:
        await run(interaction, "mydata", [])

    @tree.command(name="weekly", description=_l(N_("Turn your personal weekly summary on or off.")))
    @app_commands.guild_only()
    @app_commands.rename(choice=_l(N_("choice")))
    @app_commands.describe(choice=_l(N_("on or off; leave empty to see your current setting")))
    @app_commands.choices(choice=[Choice(name=_l(N_("on")), value="on"), Choice(name=_l(N_("off")), value="off")])
    async def weekly(interaction: discord.Interaction, choice: str | None = None) -> None:
        await run(interaction, "weekly", [choice] if choice else [])

    @tree.command(name="link", description=_l(N_("Link your Discord and Telegram accounts into one global score.")))
    @app_commands.rename(code=_l(N_("code")))
    @app_commands.describe(code=_l(N_("The code from your other platform; leave empty to get one")))
    async def link(interaction: discord.Interaction, code: app_commands.Range[str, 1, 32] | None = None) -> None:
        await run(interaction, "link", [code] if code else [])

    @tree.command(name="settings", description=_l(N_("Community settings (Manage Server only).")))
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.rename(setting=_l(N_("setting")), value=_l(N_("value")), channel=_l(N_("channel")))
    @app_commands.describe(setting=_l(N_("The setting to change; leave empty to see all")),
                           value=_l(N_("The new value")),
                           channel=_l(N_("A channel, for the summary channel or excluded channels")))
    @app_commands.choices(setting=_SETTING_CHOICES)
    @app_commands.autocomplete(value=_setting_values)
    async def settings(interaction: discord.Interaction, setting: str | None = None,
                       value: app_commands.Range[str, 1, 64] | None = None,
                       channel: discord.abc.GuildChannel | None = None) -> None:
        args: list[str] = []
        if setting is not None:
            args.append(setting)
            if channel is not None:
                args.append(str(channel.id))
            elif value is not None:
                args.append(responder.resolve_channel(interaction, value)
                            if setting in ("channel", "exclude", "include") else value)
        await run(interaction, "settings", args)

    @tree.command(name="help", description=_l(N_("What Clout can do; name a command to explain it.")))
    @app_commands.rename(command=_l(N_("command")))
    @app_commands.describe(command=_l(N_("The command to explain")))
    @app_commands.choices(command=[Choice(name=name, value=name) for name in COMMANDS])
    async def help_(interaction: discord.Interaction, command: str | None = None) -> None:
        await run(interaction, "help", [command] if command else [])

    @tree.context_menu(name=_l(N_("Clout score")))
    async def clout_score(interaction: discord.Interaction, user: discord.User) -> None:
        await run(interaction, "score", [str(user.id)])

    return tree
