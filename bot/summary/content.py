"""What a weekly summary says: the week's data of a community, the digest and the personal summary.

`load_week` reads everything a run needs once (one aggregates read, two score tables computed
off the event loop, names, privacy, per-channel responders, last week's outbox failures);
`digest` and `personal` turn it into neutral `Reply` objects, localized, for any adapter. Personal
summaries are built one at a time at delivery (a card each), so a 100k-member fan-out never holds
100k replies in memory.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from babel import Locale
from babel.lists import format_list

from bot.card import CardData, CardRenderer
from bot.chat.commands import N_, who_moved
from bot.chat.reply import Attachment, Reply, Table
from bot.i18n import Translator
from bot.summary.chart import render_chart_async
from bot.summary.explainer import WeekExplainer
from bot.summary.schedule import week_key
from bot.summary.tips import (
    Benchmark,
    CommunityFacts,
    Components,
    MemberFacts,
    Tip,
    choose_tips,
    community_tip,
)
from scoring.daily import DailyAggregates
from scoring.engine import MemberStats, ScoreTable, compute
from scoring.explain import Explanation, explain
from scoring.model import CommunityRef, day_of, epoch
from storage.base import CommunitySettings

__all__ = ["TOP", "FastNumbers", "WeekData", "digest", "load_week", "member_facts", "personal", "personal_text"]

TOP = 10
MOVERS = 3
WEEKS = 12
WINDOW_DAYS = 90


@dataclass(slots=True)
class WeekData:
    """Everything one community's weekly run needs, read once."""

    ref: CommunityRef
    name: str
    week: str
    scheduled: datetime
    settings: CommunitySettings
    now: ScoreTable
    then: ScoreTable
    names: dict[str, str]
    invisible: set[str]
    engagement: list[tuple[date, int]]            # oldest first, the last is this week
    channels: dict[str, dict[str, int]]
    community: CommunityFacts
    bench: Benchmark
    unreachable_last_week: int = 0
    digest_gone_last_week: bool = False
    previous_algorithm: str | None = None         # the algorithm of the previous run, when it differs
    _sorted: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _visible: list[str] | None = field(default=None, repr=False)
    _visible_rank: dict[str, int] = field(default_factory=dict, repr=False)
    _pct: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _explainer: WeekExplainer | None = field(default=None, repr=False)

    @property
    def visible(self) -> list[str]:
        """Scored members in rank order, hidden and opted-out ones left out."""
        if self._visible is None:
            self._visible = [m.user for m in self.now.members if m.user not in self.invisible]
            self._visible_rank = {u: i + 1 for i, u in enumerate(self._visible)}
        return self._visible

    def rank(self, user: str) -> int | None:
        """1-based rank among visible members (None for a hidden or unscored member)."""
        self.visible  # noqa: B018 - builds the index
        return self._visible_rank.get(user)

    def member_percentiles(self, user: str) -> dict[str, float]:
        """Each component's percentile of a scored member (precomputed for everyone in `_finish`)."""
        i = self.now.position(user)
        if i is None:
            return {}
        return {c: pct[i] for c, pct in self._pct.items()}

    def percentile(self, component: str, value: float) -> float:
        """A value's percentile among the community's scored members (ties count half)."""
        arr = self._sorted.get(component)
        if arr is None or arr.size == 0:
            return 0.0
        below = int(np.searchsorted(arr, value, side="left"))
        ties = int(np.searchsorted(arr, value, side="right")) - below
        return 100.0 * (below + 0.5 * ties) / arr.size

    def display(self, user: str) -> str:
        return self.names.get(user) or user

    def explain(self, user: str) -> Explanation:
        """`scoring.explain.explain(user, now, then)`, from the comparison `_finish` made for everyone."""
        if self._explainer is None:
            return explain(user, self.now, self.then)
        return self._explainer.explain(user)

    def stats(self, user: str) -> MemberStats:
        """`now.stats(user)`, the member's raw counts in the window."""
        if self._explainer is None:
            return self.now.stats(user)
        return self._explainer.stats(user)


async def load_week(store: object, ref: CommunityRef, scheduled: datetime, *, settings: CommunitySettings,
                    algorithm_before: str | None = None, timings: dict[str, float] | None = None) -> WeekData:
    """Read and compute a community's week as of its scheduled time (one aggregates read for both tables).

    The score tables are computed in a worker thread while the store reads the rest (names,
    privacy, per-channel responders, last week's outbox): SQLite and numpy do most of that work
    outside the GIL, so the two overlap. `timings`, when given, receives each step's wall seconds.
    """
    s: object = store
    clock = time.perf_counter
    spent: dict[str, float] = timings if timings is not None else {}
    week = week_key(scheduled, settings.timezone)
    t = clock()
    aggs: DailyAggregates = await s.aggregates(ref, scheduled - timedelta(days=WINDOW_DAYS + 7), scheduled)  # type: ignore[attr-defined]
    spent["aggregates"] = clock() - t
    tables = asyncio.ensure_future(asyncio.to_thread(_tables, aggs, scheduled, spent))
    try:
        t = clock()
        info = await s.community(ref)  # type: ignore[attr-defined]
        names = await s.member_names(ref)  # type: ignore[attr-defined]
        invisible = await s.invisible_members(ref)  # type: ignore[attr-defined]
        channels = await s.channel_responders(ref, scheduled - timedelta(days=7), scheduled)  # type: ignore[attr-defined]
        previous = week_key(scheduled - timedelta(days=7), settings.timezone)
        unreachable = len(await s.outbox_items(ref, previous, kind="personal", state="unreachable"))  # type: ignore[attr-defined]
        gone = bool(await s.outbox_items(ref, previous, kind="digest", state="gone"))  # type: ignore[attr-defined]
        spent["reads"] = clock() - t
    except BaseException:
        tables.cancel()
        raise
    now, then = await tables
    t = clock()
    engagement, community = await asyncio.to_thread(_engagement, aggs, scheduled)
    spent["engagement"] = clock() - t
    data = WeekData(ref=ref, name=(info.name if info is not None and info.name else ref.id), week=week,
                    scheduled=scheduled, settings=settings, now=now, then=then, names=names, invisible=invisible,
                    engagement=engagement, channels=channels, community=community, bench=Benchmark(),
                    unreachable_last_week=unreachable, digest_gone_last_week=gone,
                    previous_algorithm=algorithm_before if algorithm_before not in (None, now.algorithm) else None)
    t = clock()
    await asyncio.to_thread(_finish, data, aggs, scheduled)
    spent["finish"] = clock() - t
    return data


def _tables(aggs: DailyAggregates, scheduled: datetime, spent: dict[str, float]) -> tuple[ScoreTable, ScoreTable]:
    # Both tables come from one read of 97 days. The "then" table keeps the whole first day of its
    # window where a read cut at exactly 90 days would keep part of it: a day 90 days old weighs
    # 1/8 of a fresh one, so the difference is small; docs/summaries.md says so.
    t = time.perf_counter()
    now = compute(aggs, scheduled, window_days=WINDOW_DAYS)
    spent["compute_now"] = time.perf_counter() - t
    t = time.perf_counter()
    then = compute(aggs, scheduled - timedelta(days=7), window_days=WINDOW_DAYS)
    spent["compute_then"] = time.perf_counter() - t
    return now, then


def _engagement(aggs: DailyAggregates, scheduled: datetime) -> tuple[list[tuple[date, int]], CommunityFacts]:
    """Responses between members per week (12 weeks by day; week 0 ends at the scheduled day) and the
    community's facts for its tip (top share is filled in by `_finish`)."""
    last = day_of(epoch(scheduled))
    responses = (aggs.pd_replies + aggs.pd_mentions + aggs.pd_reactions).astype(np.int64)
    keep = (aggs.pd_responder != aggs.pd_target) & (aggs.pd_day <= last)
    ago = (last - aggs.pd_day.astype(np.int64)) // 7
    per_week = np.bincount(ago[keep & (ago < WEEKS)], weights=responses[keep & (ago < WEEKS)], minlength=WEEKS)
    epoch_day = date(1970, 1, 1)
    weeks = [(epoch_day + timedelta(days=last - 7 * i - 6), int(round(per_week[i]))) for i in range(WEEKS - 1, -1, -1)]
    this_week = keep & (ago == 0)
    answered = set(aggs.pd_target[this_week].tolist())
    posting = (aggs.md_day <= last) & ((last - aggs.md_day.astype(np.int64)) // 7 == 0) & (aggs.md_counted > 0)
    posters = set(aggs.md_user[posting].tolist())
    facts = CommunityFacts(engagement_now=weeks[-1][1], engagement_then=weeks[-2][1], posters=len(posters),
                           unanswered=len(posters - answered))
    return weeks, facts


def _finish(data: WeekData, aggs: DailyAggregates, scheduled: datetime) -> None:
    """Percentile arrays, the top-10 benchmark and the share of this week's responses that went to
    the visible top 10 (needs the table and privacy)."""
    members = data.now.members
    data._explainer = WeekExplainer(data.now, data.then)
    for name in ("reach", "resonance", "network", "activity"):
        values = np.array([getattr(m, name) for m in members], dtype=np.float64)
        ordered = data._sorted[name] = np.sort(values)
        below = np.searchsorted(ordered, values, side="left")
        ties = np.searchsorted(ordered, values, side="right") - below
        data._pct[name] = (100.0 * (below + 0.5 * ties) / max(1, values.size)).tolist()
    top = data.visible[:TOP]
    if not top:
        return
    stats = [data.now.stats(u) for u in top]
    data.bench = Benchmark(
        responders=float(np.median([s.distinct_responders for s in stats])),
        responses_per_message=float(np.median([_per_message(s) for s in stats])),
        active_days=float(np.median([s.active_days for s in stats])))
    last = day_of(epoch(scheduled))
    week = (aggs.pd_day <= last) & ((last - aggs.pd_day.astype(np.int64)) // 7 == 0) \
        & (aggs.pd_responder != aggs.pd_target)
    responses = (aggs.pd_replies + aggs.pd_mentions + aggs.pd_reactions).astype(np.int64)
    total = int(responses[week].sum())
    if total > 0:
        index = {u: i for i, u in enumerate(aggs.users)}
        top_ids = np.array([index[u] for u in top if u in index], dtype=np.int64)
        to_top = int(responses[week & np.isin(aggs.pd_target, top_ids)].sum())
        c = data.community
        data.community = CommunityFacts(c.engagement_now, c.engagement_then, c.posters, c.unanswered, to_top / total)


def _per_message(stats: object) -> float:
    s = stats
    counted = s.counted_messages  # type: ignore[attr-defined]
    received = s.replies + s.mentions + s.reactions  # type: ignore[attr-defined]
    return received / counted if counted > 0 else 0.0


# -- the digest ------------------------------------------------------------------------------------

async def digest(data: WeekData, tr: Translator, *, chart: bool = True) -> Reply:
    """The community's weekly digest: engagement, top 10, risers and fallers, newcomers, one tip."""
    text: list[str] = []
    c = data.community
    if c.engagement_then > 0:
        text.append(tr.gettext("This week: %(n)s responses between members (%(change)s compared with last week).",
                               n=tr.number(c.engagement_now),
                               change=_signed_percent(tr, (c.engagement_now - c.engagement_then) / c.engagement_then)))
    else:
        text.append(tr.gettext("This week: %(n)s responses between members.", n=tr.number(c.engagement_now)))
    visible = data.visible
    top_now = visible[:TOP]
    then_visible = [m.user for m in data.then.members if m.user not in data.invisible][:TOP]
    rows = []
    for i, user in enumerate(top_now, 1):
        ms = data.now.get(user)
        before = data.then.get(user)
        assert ms is not None
        change = tr.gettext("new") if before is None else tr.signed(ms.score - before.score)
        rows.append((tr.number(i), data.display(user), tr.number(ms.score), change))
    table = Table((tr.gettext("Rank"), tr.gettext("Member"), tr.gettext("Score"), tr.gettext("Week")),
                  tuple(rows)) if rows else None
    if not rows:
        text.append(tr.gettext("Nobody has a score yet: scores come from how members respond to each other."))
    risers, fallers = _movers(data)
    if risers:
        text.append(tr.gettext("Top risers: %(names)s.", names=format_list(
            [f"{data.display(u)} ({tr.signed(d)})" for u, d in risers], locale=tr.locale)))
    if fallers:
        text.append(tr.gettext("Biggest changes down: %(names)s.", names=format_list(
            [f"{data.display(u)} ({tr.signed(d)})" for u, d in fallers], locale=tr.locale)))
    newcomers = [u for u in top_now if u not in then_visible]
    if newcomers and then_visible:
        text.append(tr.gettext("New in the top 10: %(names)s.", names=format_list(
            [data.display(u) for u in newcomers], locale=tr.locale)))
    text.append(tr.gettext("Tip: %(tip)s", tip=community_tip_text(community_tip(c), tr)))
    if data.unreachable_last_week:
        text.append(tr.ngettext(
            "For admins: %(n)s member could not be sent last week's personal summary (private messages "
            "closed), so their weekly summaries were turned off.",
            "For admins: %(n)s members could not be sent last week's personal summary (private messages "
            "closed), so their weekly summaries were turned off.", data.unreachable_last_week))
    if data.digest_gone_last_week:
        text.append(tr.gettext("For admins: last week's digest could not be posted (the channel was gone or "
                               "I was not allowed to post there)."))
    image = None
    if chart:
        png = await render_chart_async(data.engagement, tr)
        image = Attachment("clout-weekly.png", png, "image/png")
    return Reply(title=tr.gettext("Weekly digest of %(community)s, week %(week)s", community=data.name,
                                  week=data.week), text=tuple(text), table=table, image=image)


def _movers(data: WeekData) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    deltas = []
    for m in data.now.members:
        if m.user in data.invisible:
            continue
        before = data.then.get(m.user)
        if before is not None and m.score != before.score:
            deltas.append((m.user, m.score - before.score, m.rank))
    risers = sorted((d for d in deltas if d[1] > 0), key=lambda d: (-d[1], d[2]))[:MOVERS]
    fallers = sorted((d for d in deltas if d[1] < 0), key=lambda d: (d[1], d[2]))[:MOVERS]
    return [(u, d) for u, d, _ in risers], [(u, d) for u, d, _ in fallers]


def _signed_percent(tr: Translator, fraction: float) -> str:
    text = tr.percent(abs(fraction))
    return text if round(abs(fraction) * 100) == 0 else ("+" if fraction > 0 else "\u2212") + text


_COMMUNITY_TIPS = {
    "engagement_down": N_("Engagement fell by %(pct)s this week. An open question in the main channel is an "
                          "easy way to get people talking again."),
    "unanswered": N_("%(n)s members posted this week without getting any response. A reply or a reaction to "
                     "someone new goes a long way."),
    "engagement_up": N_("Engagement rose by %(pct)s this week. Whatever got people talking, more of it."),
    "concentrated": N_("Most responses went to a few members. Answering someone you have not talked to yet "
                       "spreads the conversation."),
    "quiet": N_("A quiet week: no responses between members yet. A question to the community is an easy way to "
                 "start a conversation."),
    "steady": N_("Engagement held steady. Welcoming a newcomer by name keeps a community lively."),
}


def community_tip_text(tip: Tip, tr: Translator) -> str:
    values = tip.values
    return tr.gettext(_COMMUNITY_TIPS[tip.rule],
                      pct=tr.percent(abs(float(values.get("change", 0.0)))),
                      n=tr.number(int(values.get("n", 0))))


# -- the personal summary ----------------------------------------------------------------------------

class FastNumbers:
    """A Translator whose `number` and `signed` skip Babel's per-call locale lookups.

    Babel re-parses the locale for every number (about 60 µs each); a personal summary formats
    about 20, so 100k summaries spent most of their time there. Symbols are read once per
    language; the output equals `Translator.number` for the decimal patterns of en and de
    (grouping by three; tests compare them). Everything else is delegated.
    """

    __slots__ = ("_tr", "_table", "_zeros", "_small", "locale")

    def __init__(self, tr: Translator) -> None:
        self._tr = tr
        self.locale = tr.locale
        group, decimal = _symbols(tr.locale)
        # One pass swaps Python's "," and "." for the locale's symbols (None: they are the same).
        self._table = None if (group, decimal) == (",", ".") else str.maketrans({",": group, ".": decimal})
        self._small: tuple[str, ...] = ()
        self._zeros = tuple(self.number(0, d) for d in range(4))
        self._small = tuple(self.number(i) for i in range(_SMALL))  # counts are mostly small

    def number(self, x: float, digits: int = 0) -> str:
        if digits == 0 and type(x) is int and 0 <= x < len(self._small):
            return self._small[x]
        text = format(x, _SPECS[digits]) if digits < len(_SPECS) else f"{x:,.{digits}f}"
        if text[0] == "-" and text.strip("-0.,") == "":
            text = text[1:]  # "-0.0" reads as 0
        return text if self._table is None else text.translate(self._table)

    def signed(self, n: float, digits: int = 0) -> str:
        text = self.number(abs(n), digits)
        if text == (self._zeros[digits] if digits < 4 else self.number(0, digits)):
            return text
        return ("+" if n > 0 else "\u2212") + text

    def gettext(self, message: str, /, **params: object) -> str:
        return self._tr.gettext(message, **params)

    def ngettext(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        if "n" not in params:
            params["n"] = self.number(n)  # the fast format; the translator keeps a given `n`
        return self._tr.ngettext(singular, plural, n, **params)

    def percent(self, fraction: float, digits: int = 0) -> str:
        if digits == 0 and 0.0 <= fraction <= 1.0:
            return _percent(self.locale, round(fraction * 100))
        return self._tr.percent(fraction, digits)


_SMALL = 1000
_SPECS = tuple(f",.{d}f" for d in range(4))


@functools.cache
def _symbols(locale: str) -> tuple[str, str]:
    from babel.numbers import get_decimal_symbol, get_group_symbol

    return get_group_symbol(locale), get_decimal_symbol(locale)


class _ListLocale(Locale):
    """A Locale whose list patterns are plain dicts, read once: `format_list` (who moved a member's
    score) otherwise walks Babel's locale data on every call, a tenth of a summary's time."""

    def __init__(self, code: str) -> None:
        base = Locale.parse(code)
        super().__init__(base.language, base.territory, base.script, base.variant, base.modifier)
        self._lists = {style: dict(patterns.items()) for style, patterns in base.list_patterns.items()}

    @property
    def list_patterns(self) -> dict[str, dict[str, str]]:  # type: ignore[override]
        return self._lists


@functools.cache
def _locale(code: str) -> Locale:
    return _ListLocale(code)


@functools.cache
def _percent(locale: str, whole: int) -> str:
    from bot.i18n import translator

    return translator(locale).percent(whole / 100)


def _fast(tr: Translator | FastNumbers) -> Translator:
    if isinstance(tr, FastNumbers):
        return tr  # type: ignore[return-value]
    fast = _FAST.get(tr.locale)
    if fast is None or fast._tr is not tr:
        fast = _FAST[tr.locale] = FastNumbers(tr)  # one per language: translator() returns the same object
    return fast  # type: ignore[return-value]


_FAST: dict[str, FastNumbers] = {}


def member_facts(data: WeekData, user: str, ex: Explanation, stats: MemberStats | None = None) -> MemberFacts:
    """The facts the tip rules need for one member."""
    ms, before = data.now.get(user), data.then.get(user)
    stats = stats if stats is not None else data.stats(user)
    now = Components(ms.reach, ms.resonance, ms.network, ms.activity) if ms is not None else None
    then = Components(before.reach, before.resonance, before.network, before.activity) if before is not None else None
    percentiles = data.member_percentiles(user) if now is not None else {}
    return MemberFacts(score_now=ex.score_now, score_then=ex.score_then, now=now, then=then,
                       responders=stats.distinct_responders, new_responders=ex.new_responders,
                       lost_responders=ex.lost_responders, responses_per_message=_per_message(stats),
                       active_days=stats.active_days, percentiles=percentiles,
                       channels=data.channels.get(user, {}))


def personal_text(data: WeekData, user: str, tr: Translator, *,
                  old_score: int | None = None) -> tuple[str, tuple[str, ...], list[Tip]]:
    """The title, paragraphs and tips of a member's summary (no image: see `personal`)."""
    tr = _fast(tr)
    ex = data.explain(user)
    ms = data.now.get(user)
    stats = data.stats(user)
    text: list[str] = []
    if ms is None:
        text.append(tr.gettext("You have no score this week: nobody has responded to you in the last 90 days."))
    elif ex.score_then is None:
        text.append(tr.gettext("Your score: %(now)s (new this week).", now=tr.number(ms.score)))
    else:
        text.append(tr.gettext("Your score: %(now)s, a week ago %(then)s (%(delta)s).", now=tr.number(ms.score),
                               then=tr.number(ex.score_then), delta=tr.signed(ex.delta)))
    if ms is not None:
        text.append(tr.gettext("You are ahead of %(pct)s of the members here.",
                               pct=tr.percent(math.floor(ms.percentile) / 100)))
        text.append(_components(data, user, ex, tr, stats))
        moved = who_moved(ex, data.display, data.invisible, tr, locale=_locale(tr.locale))
        if moved:
            text.append(moved)
    if data.previous_algorithm is not None:
        before = data.then.get(user)
        text.append(tr.gettext(
            "The scoring formula changed this week (%(old)s → %(new)s). Last week's score was %(old_score)s "
            "under the old formula and is %(new_score)s under the new one.",
            old=data.previous_algorithm, new=data.now.algorithm,
            old_score=tr.number(old_score) if old_score is not None else "–",
            new_score=tr.number(before.score) if before is not None else "–"))
    tips = choose_tips(member_facts(data, user, ex, stats), data.bench)
    lines = [tr.gettext("Tips for the week ahead:")] + [f"• {tip_text(t, tr)}" for t in tips]
    text.append("\n".join(lines))
    title = tr.gettext("Your week in %(community)s (%(week)s)", community=data.name, week=data.week)
    return title, tuple(text), tips


def _components(data: WeekData, user: str, ex: Explanation, tr: Translator, stats: MemberStats) -> str:
    ms = data.now.get(user)
    assert ms is not None
    received = stats.replies + stats.mentions + stats.reactions
    lines = (
        tr.ngettext("Reach %(value)s (%(delta)s): %(n)s member responded to you, %(new)s of them new.",
                    "Reach %(value)s (%(delta)s): %(n)s members responded to you, %(new)s of them new.",
                    ex.responders_now, value=tr.number(ms.reach, 1), delta=tr.signed(ex.reach_delta, 1),
                    new=tr.number(ex.new_responders)),
        tr.gettext("Resonance %(value)s (%(delta)s): %(responses)s responses to %(messages)s counted messages.",
                   value=tr.number(ms.resonance, 2), delta=tr.signed(ex.resonance_delta, 2),
                   responses=tr.number(received), messages=tr.number(stats.counted_messages)),
        tr.gettext("Network %(value)s (%(delta)s): how well answered the people who answer you are "
                   "(1 is the community average).", value=tr.number(ms.network, 2),
                   delta=tr.signed(ex.network_delta, 2)),
        tr.gettext("Activity %(value)s (%(delta)s): %(days)s days with messages in the window.",
                   value=tr.number(ms.activity, 1), delta=tr.signed(ex.activity_delta, 1),
                   days=tr.number(stats.active_days)),
    )
    return "\n".join(lines)


_WEAKEST = {
    "reach": N_("Reach is where you have the most room: answering someone you have not talked to yet adds a "
                "new person to it."),
    "resonance": N_("Resonance is where you have the most room: one question or idea that invites answers "
                    "does more than several short messages."),
    "network": N_("Network is where you have the most room: joining the threads that many people answer "
                  "connects you to the center of the conversation."),
    "activity": N_("Activity is where you have the most room: dropping in on a few more days a week keeps "
                   "conversations going."),
}
_DROP = {
    "reach": N_("Your reach went from %(before)s to %(after)s: some people who used to respond have not "
                "recently. A reply to one of them can restart the conversation."),
    "resonance": N_("Your resonance went from %(before)s to %(after)s. Messages that ask or offer something "
                    "tend to get answers."),
    "network": N_("Your network value went from %(before)s to %(after)s. Conversations with members many "
                  "people answer count the most."),
    "activity": N_("Your activity went from %(before)s to %(after)s: a quieter week. A few short visits "
                   "keep you in the conversation."),
}
_TOP = {
    "responders": N_("Members at the top hear from about %(theirs)s different people; you heard from "
                     "%(mine)s. Answering newcomers' questions is how most of them got there."),
    "responses_per_message": N_("Messages of top members draw about %(theirs)s responses each; yours draw "
                                "%(mine)s. Asking a question or sharing something useful invites answers."),
    "active_days": N_("Top members post on about %(theirs)s days of the window; you posted on %(mine)s. "
                      "Regular short visits add up."),
}


def tip_text(tip: Tip, tr: Translator) -> str:
    """A member tip in words."""
    v = tip.values
    if tip.rule == "celebrate":
        delta, new = int(v.get("delta", 0)), int(v.get("new", 0))
        if new and delta <= 0:
            return tr.ngettext("%(n)s new person responded to you this week. Keep doing what you did!",
                               "%(n)s new people responded to you this week. Keep doing what you did!", new)
        if new:
            return tr.ngettext("Your score rose by %(delta)s and %(n)s new person responded to you. "
                               "Keep doing what you did this week!",
                               "Your score rose by %(delta)s and %(n)s new people responded to you. "
                               "Keep doing what you did this week!", new, delta=tr.number(delta))
        return tr.gettext("Your score rose by %(delta)s this week. Keep doing what you did!", delta=tr.number(delta))
    if tip.rule == "best_channel":
        channel, n = str(v["channel"]), int(v["n"])
        if int(v.get("channels", 1)) > 1:
            return tr.gettext("Your messages in #%(channel)s drew responses from %(n)s people, the most of any "
                              "channel you post in. More of that works.", channel=channel, n=tr.number(n))
        return tr.gettext("Your messages in #%(channel)s drew responses from %(n)s people. More of that works.",
                          channel=channel, n=tr.number(n))
    if tip.rule == "biggest_drop":
        digits = 2 if tip.component in ("resonance", "network") else 1
        return tr.gettext(_DROP[str(tip.component)], before=tr.number(float(v["before"]), digits),
                          after=tr.number(float(v["after"]), digits))
    if tip.rule == "top_difference":
        digits = 1 if tip.component == "responses_per_message" else 0
        return tr.gettext(_TOP[str(tip.component)], theirs=tr.number(float(v["theirs"]), digits),
                          mine=tr.number(float(v["mine"]), digits))
    if tip.rule == "weakest":
        return tr.gettext(_WEAKEST[str(tip.component)])
    if tip.rule == "first_steps":
        return tr.gettext("Reply to someone's question or react to a message you liked: scores grow from how "
                          "others respond to you, and a conversation usually starts with you responding first.")
    return tr.gettext("Keep the conversations going: replies and questions that invite answers count the most.")


async def personal(data: WeekData, user: str, tr: Translator, renderer: CardRenderer, *,
                   old_score: int | None = None, history: list[tuple[date, int]] | None = None) -> Reply:
    """A member's personal summary with their score card."""
    title, text, _tips = personal_text(data, user, tr, old_score=old_score)
    ms = data.now.get(user)
    image = None
    if ms is not None:
        card = CardData(name=data.display(user), community=data.name, score=ms.score, percentile=ms.percentile,
                        rank=data.rank(user) or ms.rank, members=len(data.visible) or len(data.now.members), reach=ms.reach, resonance=ms.resonance,
                        network=ms.network, activity=ms.activity, history=history or [])
        image = Attachment("clout-score.png", await renderer.render(card, tr), "image/png")
    return Reply(title=title, text=text, image=image, private=True)


