"""/settings through the console: admins only, every setting, bad values in both languages."""

from __future__ import annotations

import pytest

from storage.base import CommunitySettings
from tests.chat.conftest import REF, BuildChat, Chat


async def _settings(chat: Chat) -> CommunitySettings:
    return await chat.store.community_settings(REF)


async def test_commands_settings_shows_current_settings(chat: Chat) -> None:
    out = await chat("/settings")
    assert "Community settings" in out
    for label in ("Summary channel", "Weekday", "Hour", "Time zone", "Language", "Excluded channels", "Mode"):
        assert label in out
    assert "Monday" in out and "9:00" in out and "UTC" in out and "English" in out
    assert "open: everyone is scored" in out


async def test_commands_settings_shows_in_german(chat_de: Chat) -> None:
    out = await chat_de("/settings")
    assert "Community-Einstellungen" in out
    assert "Wochentag" in out and "Montag" in out and "09:00" in out and "Englisch" in out


@pytest.mark.parametrize(("line", "field", "value"), [
    ("/settings channel here", "summary_channel", "general"),
    ("/settings channel #digest", "summary_channel", "digest"),
    ("/settings channel <#12345>", "summary_channel", "12345"),
    ("/settings weekday fri", "weekday", "fri"),
    ("/settings weekday Friday", "weekday", "fri"),
    ("/settings weekday Sonntag", "weekday", "sun"),
    ("/settings weekday MI", "weekday", "wed"),
    ("/settings hour 18", "hour", 18),
    ("/settings hour 0", "hour", 0),
    ("/settings hour 7:00", "hour", 7),
    ("/settings timezone Europe/Berlin", "timezone", "Europe/Berlin"),
    ("/settings timezone america/new_york", "timezone", "America/New_York"),
    ("/settings language de", "language", "de"),
    ("/settings language English", "language", "en"),
    ("/settings mode optin", "mode", "optin"),
    ("/settings mode open", "mode", "open"),
])
async def test_commands_settings_changes_one_value(chat: Chat, line: str, field: str, value: object) -> None:
    out = await chat(line)
    assert "Done:" in out or "Erledigt:" in out
    assert getattr(await _settings(chat), field) == value


async def test_commands_settings_channel_off(chat: Chat) -> None:
    await chat("/settings channel here", "/settings channel off")
    assert (await _settings(chat)).summary_channel is None


async def test_commands_settings_exclude_and_include_channels(chat: Chat) -> None:
    assert "(not counted)" not in await chat("channel random", "early")  # settings now cached at ingest
    out = await chat("/settings exclude #random")
    assert "Done: events in random no longer count." in out
    assert (await _settings(chat)).excluded_channels == ("random",)
    out = await chat("channel random", "hello @Bob")
    assert "(not counted)" in out
    out = await chat("channel general", "hello @Bob")
    assert "(not counted)" not in out
    await chat("/settings include random")
    assert (await _settings(chat)).excluded_channels == ()
    out = await chat("channel random", "hello again")
    assert "(not counted)" not in out


async def test_commands_settings_language_switches_replies(chat: Chat) -> None:
    out = await chat("/settings language de")
    assert "Erledigt: die Sprache der Community ist Deutsch." in out
    out = await chat("/help")
    assert "Clout-Befehle" in out


@pytest.mark.parametrize(("line", "en", "de"), [
    ("/settings weekday someday", "That is not a weekday.", "Das ist kein Wochentag."),
    ("/settings hour 24", "The hour must be a whole number from 0 to 23.",
     "Die Stunde muss eine ganze Zahl von 0 bis 23 sein."),
    ("/settings hour -1", "The hour must be a whole number from 0 to 23.",
     "Die Stunde muss eine ganze Zahl von 0 bis 23 sein."),
    ("/settings hour noon", "The hour must be a whole number from 0 to 23.",
     "Die Stunde muss eine ganze Zahl von 0 bis 23 sein."),
    ("/settings timezone Mars/Olympus", "I do not know the time zone Mars/Olympus.",
     "Die Zeitzone Mars/Olympus kenne ich nicht."),
    ("/settings timezone ../../etc/passwd", "I do not know the time zone", "kenne ich nicht"),
    ("/settings language fr", "Choose the language en (English) or de (German).",
     "Wähle die Sprache en (Englisch) oder de (Deutsch)."),
    ("/settings mode secret", "The mode is open", "Der Modus ist open"),
    ("/settings colour blue", "Unknown setting.", "Unbekannte Einstellung."),
    ("/settings hour", "Give exactly one value, for example /settings hour 18.",
     "Gib genau einen Wert an, zum Beispiel /settings hour 18."),
    ("/settings exclude #bad/name", "That is not a channel name.", "Das ist kein Kanalname."),
])
async def test_commands_settings_bad_values(make_chat: BuildChat, line: str, en: str, de: str) -> None:
    for locale, expected in (("en", en), ("de", de)):
        chat = await make_chat(locale=locale)
        out = await chat(line)
        assert expected in out, out
        assert chat.adapter.last_reply is not None and chat.adapter.last_reply.error
        assert await _settings(chat) == CommunitySettings()


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "Only community admins can use /settings."),
    ("de", "Nur Admins der Community können /settings benutzen."),
])
async def test_commands_settings_non_admin_refused(make_chat: BuildChat, locale: str, expected: str) -> None:
    chat = await make_chat(locale=locale)
    for line in ("/settings", "/settings weekday fri"):
        out = await chat("as Bob", line)
        assert expected in out
    assert await _settings(chat) == CommunitySettings()


async def test_commands_settings_in_a_dm_refused(chat: Chat) -> None:
    out = await chat("dm", "/settings weekday fri")
    assert "works only in a community chat" in out
    out = await chat("group", "/settings weekday fri")
    assert "Done" in out
