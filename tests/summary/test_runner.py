"""Weekly runs through the outbox on a real SQLite file: content end to end through the console
adapter (en and de), privacy, idempotence under restart, crash policies and delivery failures."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

from rich.console import Console

from bot.card import CardRenderer
from bot.chat.commands import Commands
from bot.chat.delivery import DeliveryFailed, DestinationGone, Unreachable
from bot.chat.ingest import Ingestor
from bot.chat.service import ScoreService
from bot.console.adapter import ConsoleAdapter
from bot.summary.content import load_week, personal_text
from bot.summary.runner import SummaryRunner
from scoring.model import CommunityRef
from storage.base import CommunitySettings, MemberPrefs
from storage.sqlite import SqliteStore
from tests.chat.conftest import MEMBERS, REF
from tests.summary.conftest import SCHEDULED, WEEK, Clock, Recorder, make_runner


async def _console(store: SqliteStore) -> tuple[ConsoleAdapter, io.StringIO]:
    clock = Clock()
    service = ScoreService(store, clock=clock, min_interval=0)
    ingestor = Ingestor(store, service)
    commands = Commands(store, service, clock=clock, ingestor=ingestor)
    out = io.StringIO()
    adapter = ConsoleAdapter(commands, ingestor, community=REF, members=MEMBERS,
                             console=Console(file=out, width=200), clock=clock, session="t")
    return adapter, out


async def test_summary_digest_and_personal_end_to_end_through_the_console(store: SqliteStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    adapter, out = await _console(store)
    adapter.out_dir = tmp_path
    runner = SummaryRunner(store, {"console": adapter}, renderer=CardRenderer(), clock=Clock())
    report = await runner.run_week(REF, SCHEDULED)
    assert report.completed and report.states == {"sent": 4}
    text = out.getvalue()
    # The digest, in the community language (English).
    assert "Clout posted in #general:" in text
    assert f"Weekly digest of demo, week {WEEK}" in text
    assert "responses between members" in text and "Tip: " in text
    assert "Rank" in text and "Alice" in text
    # Alice's summary in English, Bob's in German (his locale), Xena's in the community's language.
    assert "Clout sent a private message to Alice:" in text
    assert f"Your week in demo ({WEEK})" in text and "Tips for the week ahead:" in text
    assert "Clout sent a private message to Bob:" in text
    assert f"Deine Woche in demo ({WEEK})" in text and "Tipps für die kommende Woche:" in text
    assert "Reichweite" in text and "Resonanz" in text
    assert "Clout sent a private message to Xena:" in text
    # The chart and three score cards were attached (PNG files written by the console).
    assert [p.name.split("-")[1] for p in adapter.saved] == ["weekly", "score", "score", "score"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in adapter.saved)


async def test_summary_digest_in_german_when_the_community_speaks_german(store: SqliteStore) -> None:
    await store.set_community_settings(REF, CommunitySettings(summary_channel="general", language="de"))
    adapter, out = await _console(store)
    runner = SummaryRunner(store, {"console": adapter}, renderer=CardRenderer(), clock=Clock())
    await runner.run_week(REF, SCHEDULED)
    text = out.getvalue()
    assert "Clout hat in #general gepostet:" in text
    assert f"Wochenüberblick von demo, Woche {WEEK}" in text and "Tipp: " in text
    assert "Your week in demo" in text  # …so her summary stays English


async def test_summary_hidden_and_opted_out_members_never_appear(store: SqliteStore) -> None:
    rec = Recorder()
    first = await load_week(store, REF, SCHEDULED, settings=await store.community_settings(REF))
    top = first.visible[:2]
    await store.set_member_prefs(REF, top[0], MemberPrefs(hidden=True))
    await store.set_member_prefs(REF, top[1], MemberPrefs(opted_out=True))
    names = {m: n for m, n in MEMBERS}
    await make_runner(store, rec).run_week(REF, SCHEDULED)
    (channel, digest_reply, _nonce), = rec.posts
    assert channel == "general"
    assert names[top[0]] not in digest_reply.plain and names[top[1]] not in digest_reply.plain
    for _user, reply, _ in rec.dms:
        assert names[top[0]] not in reply.plain.replace(f"private message to {names[top[0]]}", "")
    assert len(digest_reply.table.rows) == 10  # type: ignore[union-attr]


async def test_summary_run_twice_sends_each_summary_once(store: SqliteStore) -> None:
    rec = Recorder()
    runner = make_runner(store, rec)
    await runner.run_week(REF, SCHEDULED)
    again = await runner.run_week(REF, SCHEDULED)
    assert again.sent == 0 and again.completed
    assert [u for u, _, _ in rec.dms] == ["alice", "bob", "xena"] and len(rec.posts) == 1
    # A "restart": a new runner on the same database sends nothing either.
    await make_runner(store, rec).run_week(REF, SCHEDULED)
    assert len(rec.dms) == 3
    nonces = [n for _, _, n in rec.dms]
    assert len(set(nonces)) == 3 and all(nonces)
    (run,) = await store.summary_runs(REF)
    assert run.week == WEEK and run.completed is not None


async def test_summary_stale_claim_at_most_once_is_not_resent(store: SqliteStore) -> None:
    await store.outbox_enqueue(REF, WEEK, [("bob", "personal")])
    await store.outbox_claim(REF, WEEK, "bob", "personal", SCHEDULED)  # a crash right after this claim
    rec = Recorder(platform="console", resend_with_nonce=False)
    report = await make_runner(store, rec).run_week(REF, SCHEDULED)
    assert report.uncertain == 1 and [u for u, _, _ in rec.dms] == ["alice", "xena"]
    (bob,) = await store.outbox_items(REF, WEEK, kind="personal", state="uncertain")
    assert bob.recipient == "bob" and bob.detail == "stale_claim"
    assert report.completed


async def test_summary_stale_claim_resent_with_the_same_nonce(store: SqliteStore) -> None:
    await store.outbox_enqueue(REF, WEEK, [("bob", "personal")])
    claimed = await store.outbox_claim(REF, WEEK, "bob", "personal", SCHEDULED)
    assert claimed is not None
    rec = Recorder(platform="console", resend_with_nonce=True)
    report = await make_runner(store, rec).run_week(REF, SCHEDULED)
    assert report.resent == 1
    bob = [n for u, _, n in rec.dms if u == "bob"]
    assert bob == [claimed.nonce]
    (row,) = [i for i in await store.outbox_items(REF, WEEK) if i.recipient == "bob"]
    assert row.state == "sent" and row.attempts == 2


async def test_summary_unreachable_turns_weekly_off_and_next_digest_counts_it(store: SqliteStore) -> None:
    rec = Recorder(fail={"bob": [Unreachable("403 blocked", code=403)]})
    runner = make_runner(store, rec)
    report = await runner.run_week(REF, SCHEDULED)
    assert report.unreachable == 1 and report.completed
    assert not (await store.member_prefs(REF, "bob")).weekly
    assert "bob" not in await store.weekly_subscribers(REF)
    assert "For admins" not in rec.posts[0][1].plain
    await runner.run_week(REF, SCHEDULED + timedelta(days=7))
    next_digest = rec.posts[1][1].plain
    assert "For admins: 1 member could not be sent last week's personal summary" in next_digest
    (note,) = [t for t in rec.posts[1][1].text if t.startswith("For admins")]
    assert "Bob" not in note and "bob" not in note  # a count, never a name
    assert [u for u, _, _ in rec.dms] == ["alice", "xena", "alice", "xena"]


async def test_summary_destination_gone_skips_the_digest_only(store: SqliteStore) -> None:
    rec = Recorder(fail={"general": [DestinationGone("Unknown Channel", code=10003)]})
    runner = make_runner(store, rec)
    report = await runner.run_week(REF, SCHEDULED)
    assert report.gone == 1 and rec.posts == [] and len(rec.dms) == 3 and report.completed
    (digest_row,) = await store.outbox_items(REF, WEEK, kind="digest")
    assert digest_row.state == "gone" and digest_row.detail == "destination_gone"
    await runner.run_week(REF, SCHEDULED + timedelta(days=7))
    assert "last week's digest could not be posted" in rec.posts[0][1].plain


async def test_summary_transient_failure_is_retried_then_sent(store: SqliteStore) -> None:
    rec = Recorder(fail={"alice": [DeliveryFailed("502"), DeliveryFailed("502")]})
    report = await make_runner(store, rec).run_week(REF, SCHEDULED)
    assert report.completed and report.states == {"sent": 4}
    (alice,) = [i for i in await store.outbox_items(REF, WEEK) if i.recipient == "alice"]
    assert alice.attempts == 3


async def test_summary_transient_failure_gives_up_after_max_attempts(store: SqliteStore) -> None:
    rec = Recorder(fail={"alice": [DeliveryFailed("502")] * 5})
    report = await make_runner(store, rec, max_attempts=2).run_week(REF, SCHEDULED)
    assert report.failed == 1 and report.completed
    (alice,) = [i for i in await store.outbox_items(REF, WEEK) if i.recipient == "alice"]
    assert (alice.state, alice.detail, alice.attempts) == ("failed", "delivery_failed", 2)


async def test_summary_without_an_adapter_waits_and_records_nothing(store: SqliteStore) -> None:
    other = CommunityRef("telegram", "-100")
    await store.set_community_settings(other, CommunitySettings(summary_channel="-100"))
    report = await make_runner(store, Recorder()).run_week(other, SCHEDULED)
    assert report.skipped == "no_adapter" and await store.summary_runs(other) == []


async def test_summary_algorithm_change_is_announced_with_old_and_new(store: SqliteStore) -> None:
    settings = await store.community_settings(REF)
    data = await load_week(store, REF, SCHEDULED, settings=settings, algorithm_before="clout-v0")
    assert data.previous_algorithm == "clout-v0"
    from bot.i18n import translator

    _title, text, _tips = personal_text(data, "alice", translator("en"), old_score=12)
    note = next(t for t in text if "formula changed" in t)
    then = data.then.get("alice")
    assert then is not None and "clout-v0 → clout-v1" in note
    assert f"was 12 under the old formula and is {then.score} under the new one" in note
    same = await load_week(store, REF, SCHEDULED, settings=settings, algorithm_before="clout-v1")
    assert same.previous_algorithm is None
    assert not any("formula" in t for t in personal_text(same, "alice", translator("en"))[1])


async def test_summary_personal_for_a_member_without_score_suggests_first_steps(store: SqliteStore) -> None:
    data = await load_week(store, REF, SCHEDULED, settings=await store.community_settings(REF))
    from bot.i18n import translator

    title, text, tips = personal_text(data, "newcomer", translator("en"))
    assert "You have no score this week" in text[0] and [t.rule for t in tips] == ["first_steps"]


async def test_summary_digest_facts_match_the_seed(store: SqliteStore) -> None:
    data = await load_week(store, REF, SCHEDULED, settings=await store.community_settings(REF))
    # Seed: 24 members post daily and are answered; the last week has 7 days of responses.
    assert data.community.posters == 24 and data.community.unanswered == 0
    assert data.community.engagement_now > 0 and len(data.engagement) == 12
    assert data.engagement[-1][1] == data.community.engagement_now
    assert dataclasses.asdict(data.bench)["responders"] > 0


async def test_summary_graceful_stop_leaves_no_open_claim_and_resumes(store: SqliteStore) -> None:
    class StopAfterFirstDm(Recorder):
        runner: SummaryRunner | None = None

        async def dm(self, *args: object, **kw: object) -> None:
            await super().dm(*args, **kw)  # type: ignore[arg-type]
            assert self.runner is not None
            self.runner.stopping.set()  # as `clout run` does on SIGTERM

    rec = StopAfterFirstDm()
    runner = rec.runner = make_runner(store, rec)
    report = await runner.run_week(REF, SCHEDULED)
    assert not report.completed and report.states == {"sent": 2, "pending": 2}  # digest + alice; no claim open
    resumed = await make_runner(store, rec).run_week(REF, SCHEDULED)
    assert resumed.completed and resumed.sent == 2
    assert [u for u, _, _ in rec.dms] == ["alice", "bob", "xena"]
