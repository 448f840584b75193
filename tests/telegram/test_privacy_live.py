"""No message text reaches the disk through the live Telegram path either (texts, captions, names of links)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.telegram.conftest import NOW, Direct
from tests.telegram.updates import ALICE, BOB, mention, message, update


async def test_privacy_live_telegram_messages_leave_no_text_in_the_database(direct: Direct) -> None:
    texts = [f"secret sentence number {i} about the zebra @alice_w" for i in range(40)]
    updates = []
    for i, text in enumerate(texts):
        who = ALICE if i % 2 else BOB
        if i % 5 == 0:  # a caption instead of a text
            msg = message(who, text, at=NOW - timedelta(minutes=50 - i),
                          photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}])
            msg["caption"] = msg.pop("text")
            msg["caption_entities"] = [mention(text, "alice_w")]
        else:
            msg = message(who, text, at=NOW - timedelta(minutes=50 - i), entities=[mention(text, "alice_w")])
        updates.append(update(message=msg))
    await direct.send(*updates)
    await direct.adapter.flush_usernames()
    await direct.app.store.flush()
    db = Path(direct.app.config.database)
    blob = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    assert b"alice_w" in blob  # the scan sees row data (usernames are stored, by design)
    assert [t for t in texts if t.encode() in blob] == []
    assert b"zebra" not in blob
