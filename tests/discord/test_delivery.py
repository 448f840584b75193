"""Delivery hooks the scheduler uses: post to a channel and DM a member, with resend nonces, and
Discord's errors classified (50007 → Unreachable, gone channels → DestinationGone)."""

from __future__ import annotations

import pytest

from bot.chat.delivery import DeliveryFailed, DestinationGone, Unreachable
from bot.chat.reply import Attachment, Button, Reply
from bot.discord.adapter import _nonce
from tests.discord.conftest import BOB, CAROL, GENERAL, RANDOM, REF, Harness

REPLY = Reply(title="Weekly summary", text=("You gained 5 points.",))


def _posts(bot: Harness, channel: int) -> list:
    return [c for c in bot.fake.calls if c.method == "POST" and c.path == f"/channels/{channel}/messages"]


async def test_post_sends_an_embed_with_a_nonce(bot: Harness) -> None:
    await bot.adapter.post(REF, str(GENERAL), REPLY, nonce="2026-W12:discord:81384788765712384:digest")
    [call] = _posts(bot, GENERAL)
    assert call.json["embeds"][0]["title"] == "Weekly summary"
    assert call.json["nonce"] == _nonce("2026-W12:discord:81384788765712384:digest")
    assert len(call.json["nonce"]) <= 25 and call.json["enforce_nonce"] is True
    assert call.json["allowed_mentions"] == {"parse": []}  # a summary never pings anyone


async def test_post_attaches_image_and_buttons(bot: Harness) -> None:
    reply = Reply(title="t", image=Attachment("clout-score.png", b"\x89PNG-bytes", "image/png"),
                  buttons=(Button("Next page", "leaderboard all 2"),))
    await bot.adapter.post(REF, str(GENERAL), reply)
    [call] = _posts(bot, GENERAL)
    assert call.files == {"clout-score.png": b"\x89PNG-bytes"}
    assert call.json["components"][0]["components"][0]["label"] == "Next page"


@pytest.mark.parametrize(("status", "code"), [(404, 10003), (403, 50001), (403, 50013)])
async def test_post_to_a_gone_channel_raises_destination_gone(bot: Harness, status: int, code: int) -> None:
    bot.fake.fail_channels[RANDOM] = (status, code)
    with pytest.raises(DestinationGone) as caught:
        await bot.adapter.post(REF, str(RANDOM), REPLY)
    assert caught.value.code == code


async def test_post_other_errors_raise_delivery_failed(bot: Harness) -> None:
    bot.fake.fail_channels[RANDOM] = (400, 50035)
    with pytest.raises(DeliveryFailed):
        await bot.adapter.post(REF, str(RANDOM), REPLY)


async def test_post_to_a_channel_name_is_destination_gone(bot: Harness) -> None:
    with pytest.raises(DestinationGone):
        await bot.adapter.post(REF, "general", REPLY)


async def test_dm_opens_a_dm_channel_and_sends(bot: Harness) -> None:
    await bot.adapter.dm(str(CAROL), REPLY, nonce="n1")
    opened = [c for c in bot.fake.calls if c.path == "/users/@me/channels"]
    assert int(opened[0].json["recipient_id"]) == CAROL
    sent = [c for c in bot.fake.calls if c.method == "POST" and c.path.endswith("/messages")]
    assert sent[-1].json["nonce"] == "n1"


async def test_dm_to_a_member_with_closed_dms_is_unreachable_and_not_retried(bot: Harness) -> None:
    bot.fake.closed_dms.add(BOB)
    with pytest.raises(Unreachable) as caught:
        await bot.adapter.dm(str(BOB), REPLY)
    assert caught.value.code == 50007
    sends = [c for c in bot.fake.calls if c.method == "POST" and c.path.endswith("/messages")]
    assert len(sends) == 1
