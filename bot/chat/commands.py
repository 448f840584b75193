"""The platform-neutral command layer: every chat command lives here once; adapters only translate.

`Commands.handle(ctx, "/score @bob")` (or `dispatch(ctx, "score", ["@bob"])`) returns a neutral
`Reply`. Bad input, wrong places and missing rights get a short localized reply with `error=True`;
unexpected failures are logged with a traceback and answered with a generic apology. Nothing
raised by a command escapes except `asyncio.CancelledError`.

The help text of each command is its docstring. Babel cannot extract docstrings, so the text is
given to `@command(...)` wrapped in `N_` (which the extractor sees) and the decorator sets it as
the method's `__doc__`; `/help` translates it at run time.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import difflib
import json
import logging
import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import available_timezones

from babel import Locale
from babel.dates import format_time, get_day_names
from babel.lists import format_list

from bot.card import CardData, CardRenderer
from bot.chat.ratelimit import RateLimiter
from bot.chat.reply import Attachment, Button, Context, Pending, Reply, Table
from bot.chat.service import HISTORY_WEEKS, ScoreService
from bot.i18n import SUPPORTED, Translator, negotiate, translator
from scoring.engine import global_score
from scoring.explain import Explanation
from scoring.model import CommunityRef, UserRef
from scoring.result import MemberScore
from storage.base import WEEKDAYS, CommunitySettings, LinkCode

if TYPE_CHECKING:
    from bot.chat.ingest import Backend, Ingestor

__all__ = ["COMMANDS", "LINK_ALPHABET", "CommandSpec", "Commands", "N_", "who_moved"]

log = logging.getLogger(__name__)

MAX_LINE = 300          # characters in a whole command line
MAX_ARG = 64            # characters in one argument
MAX_ARGS = 12
PAGE_SIZE = 10
FORGET_CONFIRM_WINDOW = timedelta(minutes=5)
# No 0/O, 1/I/L: a code is read off one screen and typed on another.
LINK_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LINK_LENGTH = 8
_RANKING_CACHE = 64
_CARD_CACHE = 256
_NAME_CACHE = 50_000  # names kept per community (a leaderboard page and a /score name a dozen)
# Seconds a command trusts the stored run it last read, unless this process saved scores since:
# another process sharing the database may refresh meanwhile (its run shows up within this).
STORED_RUN_TTL = 1.0


def N_(message: str) -> str:
    """Mark a string for extraction without translating it (translated later, per caller)."""
    return message


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command's name, its help (an English msgid), argument synopsis (msgid) and the method that runs it."""

    name: str
    help: str
    usage: str
    method: str
    admin: bool = False


def command(name: str, help: str, *, usage: str = "", admin: bool = False) -> Callable[[_Method], _Method]:
    """Declare a method a chat command; `help` (wrapped in N_) becomes its docstring."""

    def mark(fn: _Method) -> _Method:
        fn.__doc__ = help
        fn._clout_command = CommandSpec(name, help, usage, fn.__name__, admin)  # type: ignore[attr-defined]
        return fn

    return mark


_Method = Callable[..., Awaitable[Reply]]


class _Refusal(Exception):
    """A localized, user-fixable refusal; becomes `Reply(error=True)`."""

    def __init__(self, text: str, *more: str) -> None:
        super().__init__(text)
        self.texts = (text, *more)


@dataclass(frozen=True, slots=True)
class _Ranking:
    """A period's stored scores in rank order, and where its invisible members stand in it; ranks
    shown are places among the visible members. Nothing here is per member: a 100k community
    costs only its invisible members (usually few)."""

    members: Sequence[MemberScore]  # everyone scored in the period, in stored order
    position: Callable[[str], int | None]  # a member's index in `members`
    invisible: frozenset[str]
    hidden: tuple[int, ...]  # indexes of the invisible members in `members`, ascending
    run: object = None  # which stored run of scores it shows (None: unknown)

    @property
    def visible(self) -> int:
        """How many members the leaderboard shows."""
        return len(self.members) - len(self.hidden)

    def get(self, user: str) -> MemberScore | None:
        """The member's stored score in this ranking (None when not scored in it)."""
        pos = self.position(user)
        return None if pos is None else self.members[pos]

    def shows(self, user: str) -> bool:
        return user not in self.invisible and self.position(user) is not None

    def rank_of(self, ms: MemberScore) -> int:
        """1-based rank among visible members (for an invisible member: where they would stand)."""
        pos = self.position(ms.user)
        if pos is None:  # not in this ranking (scores changed meanwhile): place by stored rank
            pos = bisect.bisect_left(self.members, ms.rank, key=lambda m: m.rank)
        return pos - bisect.bisect_left(self.hidden, pos) + 1

    def page(self, start: int, size: int) -> list[MemberScore]:
        """The visible members from place `start` (0-based), at most `size` of them."""
        # The first index with more than `start` visible members up to and including it.
        lo, hi = 0, len(self.members)
        while lo < hi:
            mid = (lo + hi) // 2
            if mid + 1 - bisect.bisect_right(self.hidden, mid) > start:
                hi = mid
            else:
                lo = mid + 1
        out: list[MemberScore] = []
        h = bisect.bisect_left(self.hidden, lo)
        while lo < len(self.members) and len(out) < size:
            if h < len(self.hidden) and self.hidden[h] == lo:
                h += 1
            else:
                out.append(self.members[lo])
            lo += 1
        return out


def _build_ranking(members: Sequence[MemberScore], position: Callable[[str], int | None] | None,
                   invisible: set[str], run: object = None) -> _Ranking:
    if position is None:
        position = {m.user: i for i, m in enumerate(members)}.get
    hidden = sorted(p for p in map(position, invisible) if p is not None)
    return _Ranking(members, position, frozenset(invisible), tuple(hidden), run)


_WEEKDAY_ALIASES = {
    **{d: d for d in WEEKDAYS},
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
    "saturday": "sat", "sunday": "sun", "tues": "tue", "thur": "thu", "thurs": "thu",
    "montag": "mon", "dienstag": "tue", "mittwoch": "wed", "donnerstag": "thu", "freitag": "fri",
    "samstag": "sat", "sonnabend": "sat", "sonntag": "sun",
    "mo": "mon", "di": "tue", "mi": "wed", "do": "thu", "fr": "fri", "sa": "sat", "so": "sun",
}
_PERIOD_ALIASES = {"week": "week", "month": "month", "all": "all",
                   "woche": "week", "monat": "month", "alle": "all", "alles": "all"}
_LANGUAGE_ALIASES = {"en": "en", "english": "en", "englisch": "en",
                     "de": "de", "german": "de", "deutsch": "de"}
_MODE_ALIASES = {"open": "open", "offen": "open", "optin": "optin", "opt-in": "optin"}
_OFF = {"off", "none", "aus", "keiner", "-"}
_CHANNEL = re.compile(r"^[\w.\-]{1,64}$")
_MENTION = re.compile(r"^<@!?(\w+)>$")
_CHANNEL_MENTION = re.compile(r"^<#(\w+)>$")


@cache
def _zones() -> dict[str, str]:
    """Every IANA zone name, keyed case-insensitively (read once)."""
    return {z.casefold(): z for z in available_timezones()}


class Commands:
    """Parses, validates, rate-limits and runs chat commands against the store and the score service."""

    def __init__(self, store: Backend, service: ScoreService, *, clock: Callable[[], datetime],
                 link_ttl: timedelta = timedelta(minutes=10), rate: tuple[int, float] = (5, 10.0),
                 monotonic: Callable[[], float] = time.monotonic, ingestor: Ingestor | None = None,
                 renderer: CardRenderer | None = None) -> None:
        self.store = store
        self.service = service
        self.clock = clock
        self.link_ttl = link_ttl
        self.ingestor = ingestor
        self.renderer = renderer or CardRenderer()
        self.limiter = RateLimiter(rate[0], rate[1], clock=monotonic)
        self.monotonic = monotonic
        # The stored run per (community, period) as last read: (when, the service's save count, run).
        # Under load every store trip waits for the GIL behind a refresh's threads; a command in
        # a steady state makes none.
        self._runs: dict[tuple[CommunityRef, str], tuple[float, int, tuple[datetime, int] | None]] = {}
        # Display names per community, kept until its stored run changes or preferences change.
        self._names: dict[CommunityRef, dict[str, str]] = {}
        self._forget_requests: dict[tuple[str, str], datetime] = {}
        self._community_names: dict[CommunityRef, str] = {}
        self._building: set[tuple[CommunityRef, str]] = set()
        self._generation = 0  # bumped by every preference change, so no ranking built before it is cached
        self._rankings: OrderedDict[tuple[CommunityRef, str], tuple[object, _Ranking]] = OrderedDict()
        # Score cards being made or made, per (community, member, stored run, locale): a repeated
        # /score before the next refresh shares one render (dropped with the rankings on changes).
        self._cards: OrderedDict[tuple[CommunityRef, str, object, str], asyncio.Future[Attachment]] = OrderedDict()
        # Called with the community after a /settings change (the summary scheduler reschedules).
        self.settings_listeners: list[Callable[[CommunityRef], Awaitable[object]]] = []

    # -- entry points -----------------------------------------------------------------------------
    async def handle(self, ctx: Context, text: str) -> Reply:
        """Run one command line ("/name args…", "/name@BotName args…"); never raises (but CancelledError)."""
        return await self._guarded(ctx, self._handle_line, text)

    async def dispatch(self, ctx: Context, name: str, args: list[str]) -> Reply:
        """Run a command already split into name and arguments (slash commands, buttons)."""
        return await self._guarded(ctx, self._dispatch, name, list(args))

    async def _guarded(self, ctx: Context, run: Callable[..., Awaitable[Reply]], *params: object) -> Reply:
        tr = translator("en")
        try:
            tr = await self._translator(ctx)
            if not self.limiter.allow((ctx.platform, ctx.user)):
                return _error(tr.gettext("You are sending commands too quickly. "
                                         "Please wait a few seconds and try again."))
            return await run(ctx, tr, *params)
        except _Refusal as refusal:
            return _error(*refusal.texts)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("command failed on %s", ctx.platform)
            return _error(tr.gettext("Sorry, something went wrong on my side. Please try again later."))

    async def _handle_line(self, ctx: Context, tr: Translator, text: str) -> Reply:
        if len(text) > MAX_LINE:
            raise _Refusal(tr.gettext("That command is too long (at most %(n)s characters).",
                                      n=tr.number(MAX_LINE)))
        words = text.strip().split()
        if not words:
            raise _Refusal(tr.gettext("Type /help to see what I can do."))
        name = words[0].removeprefix("/").split("@", 1)[0]
        return await self._dispatch(ctx, tr, name, words[1:])

    async def _dispatch(self, ctx: Context, tr: Translator, name: str, args: list[str]) -> Reply:
        spec = COMMANDS.get(name.strip().lower().removeprefix("/"))
        if spec is None:
            close = difflib.get_close_matches(name.lower()[:MAX_ARG], list(COMMANDS), n=1)
            if close:
                raise _Refusal(tr.gettext("I do not know that command. Did you mean /%(name)s? "
                                          "Type /help to see all commands.", name=close[0]))
            raise _Refusal(tr.gettext("I do not know that command. Type /help to see all commands."))
        if any(len(a) > MAX_ARG for a in args):
            raise _Refusal(tr.gettext("An argument is too long (at most %(n)s characters).",
                                      n=tr.number(MAX_ARG)))
        if len(args) > MAX_ARGS:
            raise _Refusal(tr.gettext("Too many arguments. Type /help %(name)s to see how it is used.",
                                      name=spec.name))
        method: Callable[[Context, list[str], Translator], Awaitable[Reply]] = getattr(self, spec.method)
        return await method(ctx, args, tr)

    # -- commands ---------------------------------------------------------------------------------
    @command("score", N_("Your score with its components and what changed this week; "
                         "name a member to see theirs, or 'global' for all your linked accounts."),
             usage=N_("[member|global]"))
    async def score(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        if len(args) == 1 and args[0].lower() == "global":
            return await self._global_score(ctx, tr)
        if ctx.community is None:
            if args:
                raise _Refusal(tr.gettext("Looking up a member works only in a community chat."))
            return await self._global_score(ctx, tr)
        ref = ctx.community
        await self.service.ensure_fresh(ref)
        # The ranking (cached per refresh, rebuilt on every preference change) carries the invisible
        # members and every stored score: a /score makes few trips to the database under load.
        ranking = await self._ranking(ref, "all")
        invisible = ranking.invisible
        target = ctx.user
        if args:
            query = _member_query(" ".join(args))
            found = await self.store.find_member(ref, query) if query else None
            # A hidden member is "not found" for everyone but themselves: no hint that they exist.
            if found is None or (found != ctx.user and found in invisible):
                raise _Refusal(tr.gettext("I found no member called %(name)s here.", name=query or "?"))
            target = found
        is_self = target == ctx.user
        ms = ranking.get(target) or await self.store.score_of(ref, target, "all")
        explanation = await self.service.explanation(ref, target) if ms is not None else None
        named = [target, *(c.responder for c in explanation.contributors)] if explanation is not None else [target]
        names = await self._names_of(ref, named)
        name = names.get(target) or (ctx.name if is_self and ctx.name else target)
        if ms is None:
            if not is_self:
                raise _Refusal(tr.gettext("%(name)s has no score yet.", name=name))
            return await self._no_score(ctx, ref, tr)
        return await self._score_reply(ctx, ref, ms, name, names, ranking, explanation, tr, is_self=is_self)

    @command("leaderboard", N_("The community's top members; hidden and opted-out members never appear."),
             usage=N_("[week|month|all] [page]"))
    async def leaderboard(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        ref = _community(ctx, tr)
        period, page = "all", 1
        for arg in args:
            if arg.lower() in _PERIOD_ALIASES:
                period = _PERIOD_ALIASES[arg.lower()]
            elif re.fullmatch(r"[+-]?\d{1,9}", arg):
                page = int(arg)
            else:
                raise _Refusal(tr.gettext("Use /leaderboard [week|month|all] [page], for example "
                                          "/leaderboard week 2."))
        if page < 1:
            raise _Refusal(tr.gettext("Page numbers start at 1."))
        await self.service.ensure_fresh(ref)
        ranking = await self._ranking(ref, period)
        titles = {"week": tr.gettext("Leaderboard: last 7 days"),
                  "month": tr.gettext("Leaderboard: last 30 days"),
                  "all": tr.gettext("Leaderboard: last 90 days")}
        if not ranking.visible:
            return Reply(title=titles[period], text=(tr.gettext("Nobody has a score here yet."),))
        pages = math.ceil(ranking.visible / PAGE_SIZE)
        if page > pages:
            raise _Refusal(tr.ngettext("There is no page %(page)s: the leaderboard has %(n)s page.",
                                       "There is no page %(page)s: the leaderboard has %(n)s pages.",
                                       pages, page=tr.number(page)))
        start = (page - 1) * PAGE_SIZE
        shown = ranking.page(start, PAGE_SIZE)
        names = await self._names_of(ref, [m.user for m in shown])
        rows = tuple((tr.number(start + i + 1), names.get(m.user) or m.user, tr.number(m.score))
                     for i, m in enumerate(shown))
        buttons = []
        if page > 1:
            buttons.append(Button(tr.gettext("Previous page"), f"leaderboard {period} {page - 1}"))
        if page < pages:
            buttons.append(Button(tr.gettext("Next page"), f"leaderboard {period} {page + 1}"))
        return Reply(title=titles[period],
                     text=(tr.gettext("Page %(page)s of %(pages)s", page=tr.number(page), pages=tr.number(pages)),),
                     table=Table((tr.gettext("Rank"), tr.gettext("Member"), tr.gettext("Score")), rows),
                     buttons=tuple(buttons))

    @command("privacy", N_("Hide yourself from leaderboards and others' summaries (you are still scored, "
                           "for you alone), or show yourself again."), usage=N_("hide|show"))
    async def privacy(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        ref = _community(ctx, tr)
        prefs = await self.store.member_prefs(ref, ctx.user)
        choice = args[0].lower() if len(args) == 1 else None
        if choice not in ("hide", "show"):
            state = (tr.gettext("You are hidden from leaderboards here.") if prefs.hidden
                     else tr.gettext("You are shown on leaderboards here."))
            raise _Refusal(state, tr.gettext("Use /privacy hide or /privacy show."))
        await self.store.set_member_prefs(ref, ctx.user, dataclasses.replace(prefs, hidden=choice == "hide"))
        self._changed(ref)
        if choice == "hide":
            text = tr.gettext("Done: you no longer appear on leaderboards or in others' summaries here. "
                              "You can still see your own score with /score.")
        else:
            text = tr.gettext("Done: you appear on leaderboards here again.")
        return Reply(text=(text,), private=True)

    @command("optout", N_("Stop being scored in this community and delete your data here."))
    async def optout(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        ref = _community(ctx, tr)
        _no_args(args, tr, "optout")
        prefs = await self.store.member_prefs(ref, ctx.user)
        # Preferences first, so that events arriving meanwhile are already dropped at ingest.
        await self.store.set_member_prefs(ref, ctx.user, dataclasses.replace(
            prefs, opted_out=True, opted_in=False, weekly=False))
        self._changed(ref)
        await self.store.delete_member_data(ref, ctx.user)
        self.service.forget(ref)
        self.service.mark_dirty(ref)
        return Reply(text=(tr.gettext("Done: you are no longer scored in this community, and your data here "
                                      "has been deleted. Type /optin to be scored again."),), private=True)

    @command("optin", N_("Be scored in this community (again, after /optout; or to join an opt-in community)."))
    async def optin(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        ref = _community(ctx, tr)
        _no_args(args, tr, "optin")
        prefs = await self.store.member_prefs(ref, ctx.user)
        settings = await self.store.community_settings(ref)
        await self.store.set_member_prefs(ref, ctx.user, dataclasses.replace(prefs, opted_out=False, opted_in=True))
        self._changed(ref)
        self.service.mark_dirty(ref)
        if prefs.opted_out:
            text = tr.gettext("Welcome back: you are scored here again. Your earlier data was deleted when you "
                              "opted out, so your score starts fresh.")
        elif settings.mode == "optin" and not prefs.opted_in:
            text = tr.gettext("Welcome: you joined, so from now on you are scored here.")
        else:
            text = tr.gettext("You are scored here already.")
        return Reply(text=(text,), private=True)

    @command("forgetme", N_("Delete everything Clout knows about you, in every community (asks to confirm)."),
             usage=N_("[confirm]"))
    async def forgetme(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        key = (ctx.platform, ctx.user)
        now = self.clock()
        self._forget_requests = {k: t for k, t in self._forget_requests.items()
                                 if now - t <= FORGET_CONFIRM_WINDOW}
        if not args:
            self._forget_requests[key] = now
            return Reply(
                title=tr.gettext("Delete all your data?"),
                text=(tr.gettext("This deletes everything Clout stores about you in every community: your "
                                 "events, the responses you gave and received, your scores and their history, "
                                 "your name, your settings and linked accounts. It cannot be undone."),
                      tr.gettext("To go ahead, type /forgetme confirm within 5 minutes.")),
                buttons=(Button(tr.gettext("Yes, delete everything"), "forgetme confirm"),),
                private=True)
        if len(args) != 1 or args[0].lower() not in ("confirm", "bestätigen"):
            raise _Refusal(tr.gettext("Use /forgetme, then /forgetme confirm."))
        requested = self._forget_requests.pop(key, None)
        if requested is None:
            raise _Refusal(tr.gettext("There is nothing to confirm. Type /forgetme first."))
        user = UserRef(ctx.platform, ctx.user)
        refs = await self.store.communities_of(user)
        touched = await self.store.forget_user(user)
        self.service.forget()
        for ref in refs:
            self.service.mark_dirty(ref)
            self._changed(ref)
        self._changed(None)
        return Reply(text=(tr.ngettext("Done: everything about you has been deleted (%(n)s community).",
                                       "Done: everything about you has been deleted (%(n)s communities).",
                                       touched),
                           tr.gettext("If you keep chatting, you will be scored again from now on; "
                                      "/optout in a community stops that.")),
                     private=True)

    @command("mydata", N_("Everything Clout has stored about you, as a JSON file (only you see it)."))
    async def mydata(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        _no_args(args, tr, "mydata")
        data = await self.store.export_user(UserRef(ctx.platform, ctx.user))
        blob = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode("utf-8")
        return Reply(title=tr.gettext("Your data"),
                     text=(tr.gettext("Here is everything Clout has stored about you. "
                                      "Message text is never stored."),),
                     file=Attachment("clout-mydata.json", blob, "application/json"), private=True)

    @command("weekly", N_("Turn your personal weekly summary on or off."), usage=N_("on|off"))
    async def weekly(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        ref = _community(ctx, tr)
        prefs = await self.store.member_prefs(ref, ctx.user)
        choice = args[0].lower() if len(args) == 1 else None
        if choice not in ("on", "off", "an", "aus"):
            state = (tr.gettext("Your weekly summary is on.") if prefs.weekly
                     else tr.gettext("Your weekly summary is off."))
            raise _Refusal(state, tr.gettext("Use /weekly on or /weekly off."))
        on = choice in ("on", "an")
        # The summary is written later by the scheduler, so remember the language to write it in.
        await self.store.set_member_prefs(ref, ctx.user, dataclasses.replace(
            prefs, weekly=on, locale=ctx.locale or prefs.locale))
        text = (tr.gettext("Done: you will get a personal summary every week.") if on
                else tr.gettext("Done: no more personal weekly summaries."))
        return Reply(text=(text,), private=True)

    @command("link", N_("Link your accounts on two platforms: get a code here, enter it with /link CODE "
                        "on the other one. /score global then combines your scores."), usage=N_("[code]"))
    async def link(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        me = UserRef(ctx.platform, ctx.user)
        now = self.clock()
        if not args:
            code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_LENGTH))
            await self.store.save_link_code(LinkCode(code, me, now + self.link_ttl))
            minutes = max(1, round(self.link_ttl.total_seconds() / 60))
            return Reply(
                title=tr.gettext("Link your accounts"),
                text=(tr.gettext("Your code: %(code)s", code=code),
                      tr.ngettext("On your other platform, send /link %(code)s to me within %(n)s minute. "
                                  "The code works once.",
                                  "On your other platform, send /link %(code)s to me within %(n)s minutes. "
                                  "The code works once.", minutes, code=code)),
                private=True)
        code = "".join(args).replace("-", "").upper()
        if len(code) != LINK_LENGTH or any(c not in LINK_ALPHABET for c in code):
            raise _Refusal(tr.gettext("That does not look like a link code. Codes have %(n)s letters and "
                                      "digits; type /link on your other platform to get one.",
                                      n=tr.number(LINK_LENGTH)))
        owner = await self.store.redeem_link_code(code, me, now)
        if owner is None:
            raise _Refusal(tr.gettext("That code did not work: it is unknown, already used or expired, or it "
                                      "was made on this same platform. Type /link on your other platform "
                                      "for a new one."))
        return Reply(text=(tr.gettext("Linked: this account is now linked with your %(platform)s account. "
                                      "/score global shows your combined score.", platform=owner.platform),),
                     private=True)

    @command("settings", N_("Community settings (admins only): summary channel, weekday, hour, timezone, "
                            "language, excluded channels, open or opt-in mode. Without arguments: "
                            "show them."),
             usage=N_("[setting value]"), admin=True)
    async def settings(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        ref = _community(ctx, tr)
        if not ctx.is_admin:
            raise _Refusal(tr.gettext("Only community admins can use /settings."))
        current = await self.store.community_settings(ref)
        if not args:
            return self._settings_reply(current, tr)
        key, values = args[0].lower(), args[1:]
        if key not in _SETTERS:
            raise _Refusal(tr.gettext("Unknown setting. Use one of: channel, weekday, hour, timezone, language, "
                                      "exclude, include, mode."))
        if len(values) != 1:
            raise _Refusal(tr.gettext("Give exactly one value, for example /settings %(key)s %(example)s.",
                                      key=key, example=_SETTERS[key]))
        new, done = _apply_setting(current, key, values[0], ctx, tr)
        await self.store.set_community_settings(ref, new)
        self._changed(ref)
        for listener in self.settings_listeners:
            try:
                await listener(ref)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("settings listener failed for %s", ref.key)
        reply = self._settings_reply(new, self._tr_for(ctx, new))
        return dataclasses.replace(reply, text=(done, *reply.text))

    @command("help", N_("This list; /help COMMAND explains one command."), usage=N_("[command]"))
    async def help(self, ctx: Context, args: list[str], tr: Translator) -> Reply:
        if args:
            spec = COMMANDS.get(args[0].lower().removeprefix("/"))
            if spec is None or len(args) > 1:
                raise _Refusal(tr.gettext("I do not know that command. Type /help to see all commands."))
            return Reply(title=_synopsis(spec, tr), text=(tr.gettext(spec.help),))
        lines = []
        for spec in COMMANDS.values():
            line = tr.gettext("%(command)s — %(help)s", command=_synopsis(spec, tr), help=tr.gettext(spec.help))
            lines.append(line)
        return Reply(title=tr.gettext("Clout commands"),
                     text=("\n".join(lines),
                           tr.gettext("Your score comes from how other members respond to you. "
                                      "Clout never stores message text.")))

    # -- /score parts -----------------------------------------------------------------------------
    async def _no_score(self, ctx: Context, ref: CommunityRef, tr: Translator) -> Reply:
        prefs = await self.store.member_prefs(ref, ctx.user)
        settings = await self.store.community_settings(ref)
        if prefs.opted_out:
            text = tr.gettext("You opted out here, so you are not scored. Type /optin to be scored again.")
        elif settings.mode == "optin" and not prefs.opted_in:
            text = tr.gettext("This community scores only members who joined. Type /optin to join.")
        else:
            text = tr.gettext("You have no score here yet. Scores come from how other members respond to you: "
                              "replies, mentions and reactions.")
        return Reply(text=(text,), private=True)

    async def _score_reply(self, ctx: Context, ref: CommunityRef, ms: MemberScore, name: str,
                           names: dict[str, str], ranking: _Ranking, explanation: Explanation | None,
                           tr: Translator, *, is_self: bool) -> Reply:
        invisible = ranking.invisible
        rank = ranking.rank_of(ms)
        total = ranking.visible + (0 if ranking.shows(ms.user) else 1)
        responders = explanation.responders_now if explanation is not None else round(ms.reach)

        facts = [tr.gettext("%(score)s/100", score=tr.number(ms.score))]
        top = math.ceil(100.0 - ms.percentile)
        if top <= 50:
            facts.append(tr.gettext("top %(pct)s%%", pct=tr.number(max(1, top))))
        elif ms.percentile >= 1:
            facts.append(tr.gettext("better than %(pct)s of members", pct=tr.percent(math.floor(ms.percentile) / 100)))
        facts.append(tr.gettext("rank %(rank)s of %(total)s", rank=tr.number(rank), total=tr.number(total)))

        if is_self:
            reach = tr.ngettext("Reach %(value)s: %(n)s member responded to you",
                                "Reach %(value)s: %(n)s members responded to you", responders,
                                value=tr.number(ms.reach, 1))
        else:
            reach = tr.ngettext("Reach %(value)s: %(n)s member responded to %(name)s",
                                "Reach %(value)s: %(n)s members responded to %(name)s", responders,
                                value=tr.number(ms.reach, 1), name=name)
        components = "\n".join((
            reach,
            tr.gettext("Resonance %(value)s: responses per message, smoothed", value=tr.number(ms.resonance, 2)),
            tr.gettext("Network %(value)s: answers from well-answered members count more "
                       "(1 is the community average)", value=tr.number(ms.network, 2)),
            tr.gettext("Activity %(value)s: days with messages, recent days count more",
                       value=tr.number(ms.activity, 1)),
        ))
        text = [" · ".join(facts), components]
        if explanation is not None:
            text.extend(self._change_lines(explanation, names, invisible, tr, is_self=is_self))

        card = self._card(ref, ms, name, rank, total, ranking.run, ctx.now, tr)
        title = tr.gettext("Your Clout score") if is_self else tr.gettext("Clout score of %(name)s", name=name)
        # A hidden member looking at their own score: do not show it to the whole channel.
        private = is_self and ms.user in invisible
        # The card follows the text (adapters send the text at once): its render is not command latency.
        return Reply(title=title, text=tuple(text), private=private,
                     later=Pending(card, tr.gettext("The score card could not be made this time.")))

    def _card(self, ref: CommunityRef, ms: MemberScore, name: str, rank: int, total: int, run: object,
              now: datetime, tr: Translator) -> asyncio.Future[Attachment]:
        """The member's score card, being made or already made for this stored run and locale."""
        key = (ref, ms.user, run, tr.locale)
        made = self._cards.get(key) if run is not None else None
        if made is not None and not (made.done() and (made.cancelled() or made.exception() is not None)):
            self._cards.move_to_end(key)
            return made

        async def make() -> Attachment:
            card = CardData(
                name=name, community=(await self._community_name(ref)), score=ms.score, percentile=ms.percentile,
                rank=rank, members=total, reach=ms.reach, resonance=ms.resonance, network=ms.network,
                activity=ms.activity, history=await self._history(ref, ms.user, now))
            return Attachment("clout-score.png", await self.renderer.render(card, tr), "image/png")

        made = asyncio.ensure_future(make())
        if run is not None:
            self._cards[key] = made
            while len(self._cards) > _CARD_CACHE:
                self._cards.popitem(last=False)
        return made

    @staticmethod
    def _change_lines(ex: Explanation, names: dict[str, str], invisible: set[str], tr: Translator, *,
                      is_self: bool) -> list[str]:
        n = ex.responders_now
        if ex.score_then is None:
            if not is_self:
                return [tr.gettext("New since last week.")]
            return [tr.ngettext("New since last week: %(n)s member responded to you.",
                                "New since last week: %(n)s members responded to you.", n)]
        delta = tr.signed(ex.delta)
        if not is_self:
            return [tr.gettext("%(delta)s since last week.", delta=delta)]
        if ex.new_responders:
            lines = [tr.ngettext("%(delta)s since last week: %(n)s member responded to you, %(new)s of them new.",
                                 "%(delta)s since last week: %(n)s members responded to you, %(new)s of them new.",
                                 n, delta=delta, new=tr.number(ex.new_responders))]
        else:
            lines = [tr.ngettext("%(delta)s since last week: %(n)s member responded to you.",
                                 "%(delta)s since last week: %(n)s members responded to you.", n, delta=delta)]
        if ex.lost_responders:
            lines.append(tr.ngettext("%(n)s member who used to respond has not responded recently.",
                                     "%(n)s members who used to respond have not responded recently.",
                                     ex.lost_responders))
        lines.append(tr.gettext("Components: reach %(reach)s, resonance %(resonance)s, network %(network)s, "
                                "activity %(activity)s.", reach=tr.signed(ex.reach_delta, 1),
                                resonance=tr.signed(ex.resonance_delta, 2), network=tr.signed(ex.network_delta, 2),
                                activity=tr.signed(ex.activity_delta, 1)))
        moved = who_moved(ex, lambda user: names.get(user) or user, invisible, tr)
        if moved:
            lines.append(moved)
        return lines

    async def _history(self, ref: CommunityRef, user: str, now: datetime) -> list[tuple[date, int]]:
        """One point per week (the latest daily snapshot in it), up to 12 weeks, oldest first."""
        snapshots = await self.store.score_history(ref, user, now - timedelta(weeks=HISTORY_WEEKS))
        weekly: dict[int, tuple[datetime, int]] = {}
        for at, score in snapshots:
            week = max(0, (now - at).days) // 7
            if week not in weekly or at > weekly[week][0]:
                weekly[week] = (at, score)
        return [(at.date(), score) for _, (at, score) in sorted(weekly.items(), reverse=True)][-HISTORY_WEEKS:]

    async def _global_score(self, ctx: Context, tr: Translator) -> Reply:
        me = UserRef(ctx.platform, ctx.user)
        accounts = [me, *await self.store.linked_accounts(me)]
        influences: list[float] = []
        rows = []
        for account in accounts:
            for ref in await self.store.communities_of(account):
                await self.service.ensure_fresh(ref)
                ms = await self.store.score_of(ref, account.id, "all")
                if ms is None:
                    continue
                influences.append(ms.influence)
                rows.append((await self._community_name(ref), account.platform, tr.number(ms.score)))
        text = []
        if rows:
            text.append(tr.ngettext("Global score: %(score)s/100, from %(n)s community.",
                                    "Global score: %(score)s/100, from %(n)s communities.", len(rows),
                                    score=tr.number(global_score(influences))))
        else:
            text.append(tr.gettext("You have no score in any community yet."))
        if len(accounts) == 1:
            text.append(tr.gettext("Use /link to add your account on another platform."))
        table = Table((tr.gettext("Community"), tr.gettext("Platform"), tr.gettext("Score")), tuple(rows)) if rows else None
        return Reply(title=tr.gettext("Your global Clout score"), text=tuple(text), table=table, private=True)

    # -- helpers ----------------------------------------------------------------------------------
    async def _translator(self, ctx: Context) -> Translator:
        language = None
        if ctx.community is not None:
            # The ingestor caches settings (every change through a command invalidates it).
            settings = (await self.ingestor.settings(ctx.community) if self.ingestor is not None
                        else await self.store.community_settings(ctx.community))
            language = settings.language
        return translator(negotiate(ctx.locale, language))

    @staticmethod
    def _tr_for(ctx: Context, settings: CommunitySettings) -> Translator:
        return translator(negotiate(ctx.locale, settings.language))

    async def _community_name(self, ref: CommunityRef) -> str:
        # CommunityInfo counts rows (slow on a big community); the name rarely changes: cache it.
        name = self._community_names.get(ref)
        if name is None:
            info = await self.store.community(ref)
            name = self._community_names[ref] = (info.name if info is not None and info.name else None) or ref.id
            if len(self._community_names) > _RANKING_CACHE:
                self._community_names.pop(next(iter(self._community_names)))
        return name

    async def warm(self, ref: CommunityRef) -> None:
        """Rebuild the cached rankings of a community right after its scores were refreshed, so the
        first command afterwards does not pay for it (ScoreService calls this)."""
        for period in ("all", "week", "month"):
            await self._ranking(ref, period)

    async def _ranking(self, ref: CommunityRef, period: str) -> _Ranking:
        """Visible members of a period in rank order, cached until scores or preferences change."""
        stored = await self._stored_run(ref, period)
        stamp = (*stored, self.service.refreshes) if stored is not None else None
        cached = self._rankings.get((ref, period))
        if cached is not None and cached[0] == stamp:
            self._rankings.move_to_end((ref, period))
            return cached[1]
        if cached is not None and (ref, period) in self._building:
            # Scores were just refreshed and the new ranking is being built: until it is ready,
            # answer from the previous one instead of waiting for 100k rows.
            return cached[1]
        self._building.add((ref, period))
        generation = self._generation
        try:
            invisible = await self.store.invisible_members(ref)
            # The service keeps the tables it just saved: when they are what is stored, the ranking
            # is built from them instead of reading the whole board back (100k rows for a big
            # community, while the refresh that saved them still competes for the GIL).
            table = None if stored is None else self.service.saved_table(ref, period, *stored)
            if table is not None:
                members: Sequence[MemberScore] = table.members
                position: Callable[[str], int | None] | None = table.position
            else:
                members, position = await self.store.leaderboard(ref, period, 0, 0), None
            if position is None:  # a whole board: its index is built off the event loop
                ranking = await asyncio.to_thread(_build_ranking, members, position, invisible, stamp)
            else:  # O(invisible members): a thread hop would cost more than the work
                ranking = _build_ranking(members, position, invisible, stamp)
        finally:
            self._building.discard((ref, period))
        if generation != self._generation:
            return ranking  # preferences changed while building: use it once, never cache it
        self._rankings[(ref, period)] = (stamp, ranking)
        while len(self._rankings) > _RANKING_CACHE:
            self._rankings.popitem(last=False)
        return ranking

    async def _stored_run(self, ref: CommunityRef, period: str) -> tuple[datetime, int] | None:
        """(as_of, members) of the stored run of a period, read at most every STORED_RUN_TTL seconds
        and again whenever this process's service saved scores since."""
        key = (ref, period)
        now = self.monotonic()
        known = self._runs.get(key)
        if known is not None and known[1] == self.service.saves and now - known[0] < STORED_RUN_TTL:
            return known[2]
        saves = self.service.saves
        stored = await self.store.stored_scores(ref, period)
        run = (stored.as_of, stored.members) if stored is not None else None
        if known is None or known[2] != run:
            self._names.pop(ref, None)  # names as of the run shown: a new run reads them again
        self._runs[key] = (now, saves, run)
        if len(self._runs) > 4 * _RANKING_CACHE:
            self._runs.pop(next(iter(self._runs)))
        return run

    async def _names_of(self, ref: CommunityRef, users: Sequence[str]) -> dict[str, str]:
        """Display names of members (those the store knows), cached per community. A member without
        a name yet is asked again next time (their first message may bring it)."""
        cached = self._names.setdefault(ref, {})
        missing = [u for u in dict.fromkeys(users) if u not in cached]
        if missing:
            found = await self.store.names_of(ref, missing)
            if len(cached) + len(found) > _NAME_CACHE:
                cached.clear()
            cached.update(found)
            if len(self._names) > _RANKING_CACHE:
                self._names.pop(next(iter(self._names)))
        return {u: name for u in users if (name := cached.get(u))}

    def _changed(self, ref: CommunityRef | None) -> None:
        """Settings or preferences changed: drop what was cached from them."""
        self._generation += 1
        self.renderer.forget()
        self._cards.clear()
        if ref is None:
            self._rankings.clear()
            self._community_names.clear()
            self._runs.clear()
            self._names.clear()
        else:
            self._names.pop(ref, None)
            for run in [k for k in self._runs if k[0] == ref]:
                del self._runs[run]
            self._community_names.pop(ref, None)
            for key in [k for k in self._rankings if k[0] == ref]:
                del self._rankings[key]
        if self.ingestor is not None:
            self.ingestor.invalidate(ref)

    def _settings_reply(self, s: CommunitySettings, tr: Translator) -> Reply:
        none = tr.gettext("none")
        rows = (
            (tr.gettext("Summary channel"), s.summary_channel or none),
            (tr.gettext("Weekday"), _weekday_name(s.weekday, tr)),
            (tr.gettext("Hour"), format_time(dtime(s.hour), format="short", locale=tr.locale)),
            (tr.gettext("Time zone"), s.timezone),
            (tr.gettext("Language"), _language_name(s.language, tr)),
            (tr.gettext("Excluded channels"), ", ".join(s.excluded_channels) or none),
            (tr.gettext("Mode"), tr.gettext("open: everyone is scored") if s.mode == "open"
             else tr.gettext("opt-in: only members who joined with /optin are scored")),
        )
        return Reply(title=tr.gettext("Community settings"), table=Table((tr.gettext("Setting"), tr.gettext("Value")), rows),
                     text=(tr.gettext("Change one with /settings NAME VALUE, for example /settings weekday fri."),))


# Example values for the "give exactly one value" hint.
_SETTERS = {"channel": "here", "weekday": "fri", "hour": "18", "timezone": "Europe/Berlin", "language": "de",
            "exclude": "#random", "include": "#random", "mode": "optin"}


def who_moved(ex: Explanation, display: Callable[[str], str], invisible: set[str], tr: Translator,
              *, locale: object = None) -> str | None:
    """"Who moved it: A (new), B (more) and C (less)." — the biggest contributors to a change, hidden
    members left out (they never appear in others' replies or summaries). None when nobody is left."""
    movers = []
    for c in ex.contributors:
        if c.responder in invisible:
            continue
        who = display(c.responder)
        if c.is_new:
            movers.append(tr.gettext("%(name)s (new)", name=who))
        elif c.change > 0:
            movers.append(tr.gettext("%(name)s (more)", name=who))
        else:
            movers.append(tr.gettext("%(name)s (less)", name=who))
    if not movers:
        return None
    return tr.gettext("Who moved it: %(names)s.", names=format_list(movers[:3], locale=locale or tr.locale))


def _apply_setting(s: CommunitySettings, key: str, value: str, ctx: Context,
                   tr: Translator) -> tuple[CommunitySettings, str]:
    """The settings with one value changed, and the localized confirmation (raises _Refusal on bad input)."""
    low = value.lower()
    if key == "channel":
        channel = None if low in _OFF else _channel(value, ctx, tr)
        new = dataclasses.replace(s, summary_channel=channel)
        if channel is None:
            return new, tr.gettext("Done: weekly summaries are no longer posted in a channel.")
        return new, tr.gettext("Done: weekly summaries go to %(channel)s.", channel=channel)
    if key == "weekday":
        day = _WEEKDAY_ALIASES.get(low)
        if day is None:
            raise _Refusal(tr.gettext("That is not a weekday. Use mon, tue, wed, thu, fri, sat or sun."))
        return dataclasses.replace(s, weekday=day), tr.gettext("Done: summaries are sent on %(day)s.",
                                                                day=_weekday_name(day, tr))
    if key == "hour":
        m = re.fullmatch(r"(\d{1,2})(?::00)?", value)
        if m is None or not 0 <= int(m.group(1)) <= 23:
            raise _Refusal(tr.gettext("The hour must be a whole number from 0 to 23."))
        hour = int(m.group(1))
        return dataclasses.replace(s, hour=hour), tr.gettext(
            "Done: summaries are sent at %(time)s.", time=format_time(dtime(hour), format="short", locale=tr.locale))
    if key == "timezone":
        zone = _zones().get(value.casefold())
        if zone is None:
            raise _Refusal(tr.gettext("I do not know the time zone %(zone)s. Use a name like Europe/Berlin "
                                      "or America/New_York.", zone=value))
        return dataclasses.replace(s, timezone=zone), tr.gettext("Done: the time zone is %(zone)s.", zone=zone)
    if key == "language":
        language = _LANGUAGE_ALIASES.get(low)
        if language is None or language not in SUPPORTED:
            raise _Refusal(tr.gettext("Choose the language en (English) or de (German)."))
        new_tr = translator(language)
        return dataclasses.replace(s, language=language), new_tr.gettext(
            "Done: the community language is %(language)s.", language=_language_name(language, new_tr))
    if key in ("exclude", "include"):
        channel = _channel(value, ctx, tr)
        excluded = tuple(c for c in s.excluded_channels if c != channel)
        if key == "exclude":
            return dataclasses.replace(s, excluded_channels=(*excluded, channel)), tr.gettext(
                "Done: events in %(channel)s no longer count.", channel=channel)
        return dataclasses.replace(s, excluded_channels=excluded), tr.gettext(
            "Done: events in %(channel)s count again.", channel=channel)
    mode = _MODE_ALIASES.get(low)
    if mode is None:
        raise _Refusal(tr.gettext("The mode is open (everyone is scored) or optin (only members who joined)."))
    if mode == "optin":
        return dataclasses.replace(s, mode=mode), tr.gettext(
            "Done: only members who join with /optin are scored and shown from now on.")
    return dataclasses.replace(s, mode=mode), tr.gettext("Done: everyone here is scored, except those who opted out.")


def _channel(value: str, ctx: Context, tr: Translator) -> str:
    if value.lower() in ("here", "hier"):
        if ctx.channel is None:
            raise _Refusal(tr.gettext("Name the channel; 'here' works only inside a channel."))
        return ctx.channel
    m = _CHANNEL_MENTION.match(value)
    name = m.group(1) if m else value.removeprefix("#")
    if not _CHANNEL.match(name):
        raise _Refusal(tr.gettext("That is not a channel name. Use a name like #general, a channel id or 'here'."))
    return name


def _weekday_name(day: str, tr: Translator) -> str:
    index = WEEKDAYS.index(day) if day in WEEKDAYS else 0
    return get_day_names("wide", locale=tr.locale)[index]


def _language_name(code: str, tr: Translator) -> str:
    try:
        return Locale.parse(code).get_display_name(tr.locale) or code
    except (ValueError, LookupError):
        return code


def _synopsis(spec: CommandSpec, tr: Translator) -> str:
    usage = tr.gettext(spec.usage) if spec.usage else ""
    return f"/{spec.name} {usage}".rstrip()


def _community(ctx: Context, tr: Translator) -> CommunityRef:
    if ctx.community is None:
        raise _Refusal(tr.gettext("This command works only in a community chat, not in a private chat with me."))
    return ctx.community


def _no_args(args: list[str], tr: Translator, name: str) -> None:
    if args:
        raise _Refusal(tr.gettext("/%(name)s takes no arguments.", name=name))


def _member_query(text: str) -> str:
    """A member as typed: '@Name', '<@123>' (a Discord mention), 'Name' or an id, quotes removed."""
    text = text.strip().strip("\"'“”„")
    m = _MENTION.match(text)
    if m:
        return m.group(1)
    return text.removeprefix("@").strip()


def _error(*texts: str) -> Reply:
    return Reply(text=tuple(texts), error=True)


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (getattr(fn, "_clout_command", None) for fn in vars(Commands).values())
    if spec is not None
}
