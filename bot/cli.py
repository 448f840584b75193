"""The `clout` command line: import exports, list communities, show leaderboards and explained scores."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.chat.service import PERIODS, ScoreService
from scoring.errors import UserError
from scoring.model import CommunityRef, Event

T = TypeVar("T")

DEFAULT_DB = "./clout.db"


# -- shared options and error handling ------------------------------------------------------------

def _db_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db", "db", metavar="PATH|URL", default=None,
        help="Database: a file path or sqlite:///path URL. Default: $CLOUT_DATABASE, else ./clout.db.",
    )(f)


def _json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (shape in docs/cli.md).")(f)


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _run(coro_fn: Callable[..., Awaitable[T]]) -> Callable[..., T | None]:
    """Run an async command; a UserError becomes one sentence on stderr and exit code 2."""

    @wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> T | None:
        try:
            return asyncio.run(coro_fn(*args, **kwargs))
        except UserError as exc:
            _fail(str(exc))
        return None

    return wrapper


def database_url(db: str | None) -> str:
    return db or os.environ.get("CLOUT_DATABASE") or DEFAULT_DB


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    if "://" in url:
        return None
    return Path(url)


async def _open(db: str | None, *, must_exist: bool) -> Any:
    from storage import open_store

    url = database_url(db)
    path = _sqlite_path(url)
    if must_exist and path is not None and str(path) != ":memory:" and not path.exists():
        raise UserError(f"There is no database at {path}; import an export first (clout import --help).")
    store = open_store(url)
    await store.open()
    return store


def parse_as_of(value: str | None, *, now: datetime) -> datetime | None:
    """Parse --as-of: ISO 8601 date or time (naive means UTC), 'now', or None/'latest' (resolved later)."""
    if value is None or value == "latest":
        return None
    if value == "now":
        return now
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"--as-of {value!r} is not a time; use ISO 8601 like 2026-03-01 or 2026-03-01T12:00:00Z, "
            "or 'now' or 'latest'."
        ) from None
    if len(value) == 10:  # a bare date means the end of that day
        ts = ts + timedelta(days=1) - timedelta(seconds=1)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if ts else None


def _console() -> Any:
    from rich.console import Console

    return Console()


async def _community(store: Any, key: str) -> Any:
    try:
        ref = CommunityRef.parse(key)
    except ValueError:
        raise UserError(
            f"{key!r} is not a community id; use the form platform:id as listed by `clout communities`."
        ) from None
    info = await store.community(ref)
    if info is None:
        raise UserError(f"There is no community {key!r} in this database; `clout communities` lists them.")
    return info


# -- the command group ----------------------------------------------------------------------------

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clout")
def main() -> None:
    """Clout: influence scores for chat communities, with a published formula."""


@main.command("import")
@click.argument("fmt", metavar="{telegram|discord|events}", type=click.Choice(["telegram", "discord", "events"]))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_db_option
@_json_option
@_run
async def import_cmd(fmt: str, paths: tuple[Path, ...], db: str | None, as_json: bool) -> None:
    """Import exports (Telegram Desktop JSON, DiscordChatExporter JSON, or events JSONL).

    Each file is imported in one transaction: a file that fails leaves the database as it was.
    Importing the same file twice changes nothing.
    """
    from bot.importers import READERS

    for path in paths:
        if not path.is_file():
            raise UserError(f"{path}: no such file.")
    reader = READERS[fmt]
    store = await _open(db, must_exist=False)
    results = []
    try:
        for path in paths:
            seen: dict[str, str | None] = {}

            def tap(events: Iterator[Event], seen: dict[str, str | None] = seen) -> Iterator[Event]:
                for ev in events:
                    if ev.community.key not in seen or (ev.community_name and not seen[ev.community.key]):
                        seen[ev.community.key] = ev.community_name
                    yield ev

            with _progress(path, enabled=not as_json) as progress:
                stats = await store.import_events(tap(reader(path, progress=progress)))
            results.append({"path": str(path), "format": fmt, "events": stats.events, "new": stats.new,
                            "communities": sorted(seen)})
            if not as_json:
                names = ", ".join(f"{k} ({v})" if v else k for k, v in sorted(seen.items())) or "no community"
                click.echo(f"{path}: {stats.events:,} events read, {stats.new:,} new, into {names}.")
    finally:
        await store.close()
    if as_json:
        click.echo(json.dumps({"files": results}, ensure_ascii=False, indent=2))


class _progress:
    """A Rich progress bar over a file's bytes, shown only on a terminal."""

    def __init__(self, path: Path, *, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[int], None] | None:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                             TimeRemainingColumn(), transient=True, console=_stderr_console())
        self._bar.start()
        self._task = self._bar.add_task(self.path.name, total=self.path.stat().st_size)
        return lambda done: self._bar.update(self._task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@main.command("communities")
@_db_option
@_json_option
@_run
async def communities_cmd(db: str | None, as_json: bool) -> None:
    """List the communities in the database."""
    store = await _open(db, must_exist=True)
    try:
        infos = await store.communities()
    finally:
        await store.close()
    rows = [{"community": i.ref.key, "name": i.name, "members": i.members, "messages": i.messages,
             "first_event": _iso(i.first_event), "last_event": _iso(i.last_event)} for i in infos]
    if as_json:
        click.echo(json.dumps({"communities": rows}, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No communities yet; import an export first (clout import --help).")
        return
    from rich.table import Table

    table = Table("community", "name", "members", "messages", "first event", "last event")
    for r in rows:
        table.add_row(r["community"], r["name"] or "", f"{r['members']:,}", f"{r['messages']:,}",
                      (r["first_event"] or "")[:16].replace("T", " "), (r["last_event"] or "")[:16].replace("T", " "))
    _console().print(table)


async def _scores(store: Any, info: Any, as_of_opt: str | None, period: str, *, now: datetime) -> tuple[Any, datetime]:
    """Compute (and store) the community's scores as of a time; returns (ScoreTable, as_of)."""
    as_of = parse_as_of(as_of_opt, now=now)
    if as_of is None:
        as_of = info.last_event or now
    window = PERIODS[period]
    table = await ScoreService(store, clock=lambda: now).table(info.ref, as_of, window)
    if len(table) == 0:
        last = _iso(info.last_event) or "never"
        raise UserError(
            f"{info.ref.key} has no events in the {window} days before {_iso(as_of)}; "
            f"its last event was at {last} (try --as-of latest)."
        )
    await store.save_scores(info.ref, as_of, period, table.members)
    return table, as_of


def _components(m: Any) -> dict[str, float]:
    return {"reach": round(m.reach, 4), "resonance": round(m.resonance, 4),
            "network": round(m.network, 4), "activity": round(m.activity, 4)}


@main.command("leaderboard")
@click.option("--community", "-c", required=True, help="Community id, e.g. discord:123 (see `clout communities`).")
@click.option("--as-of", "as_of", default=None, metavar="TIME",
              help="ISO 8601 time, 'now', or 'latest' (the community's last event). Default: now.")
@click.option("--period", type=click.Choice(list(PERIODS)), default="all", show_default=True,
              help="Window of activity scored: week (7 days), month (30) or all (the 90-day window).")
@click.option("--limit", type=click.IntRange(min=0), default=10, show_default=True, help="Rows to show; 0 = everyone.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many ranks (paging).")
@_db_option
@_json_option
@_run
async def leaderboard_cmd(community: str, as_of: str | None, period: str, limit: int, offset: int,
                          db: str | None, as_json: bool) -> None:
    """Show a community's leaderboard as of a time."""
    store = await _open(db, must_exist=True)
    try:
        info = await _community(store, community)
        table, when = await _scores(store, info, as_of or "now", period, now=datetime.now(UTC))
        rows = await store.leaderboard(info.ref, period, offset, limit)
        names = await store.member_names(info.ref)
    finally:
        await store.close()
    entries = [{"rank": m.rank, "user": m.user, "name": names.get(m.user), "score": m.score,
                "percentile": round(m.percentile, 1), "components": _components(m)} for m in rows]
    if as_json:
        click.echo(json.dumps({"community": info.ref.key, "as_of": _iso(when), "algorithm": table.algorithm,
                               "period": period, "members": len(table), "entries": entries},
                              ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    out = Table("#", "member", "score", "pct", "reach", "resonance", "network", "activity",
                title=f"{info.name or info.ref.key} · {period} · as of {_iso(when)} · {table.algorithm}")
    for e in entries:
        c = e["components"]
        out.add_row(str(e["rank"]), e["name"] or e["user"], str(e["score"]), f"{e['percentile']:.0f}",
                    f"{c['reach']:.1f}", f"{c['resonance']:.2f}", f"{c['network']:.2f}", f"{c['activity']:.1f}")
    _console().print(out)
    click.echo(f"{len(table):,} members scored.")


@main.command("score")
@click.argument("user")
@click.option("--community", "-c", required=True, help="Community id, e.g. telegram:-100123.")
@click.option("--as-of", "as_of", default=None, metavar="TIME",
              help="ISO 8601 time, 'now', or 'latest' (the community's last event). Default: now.")
@click.option("--period", type=click.Choice(list(PERIODS)), default="all", show_default=True)
@_db_option
@_json_option
@_run
async def score_cmd(user: str, community: str, as_of: str | None, period: str, db: str | None, as_json: bool) -> None:
    """Show one member's score, its components, and what changed in the week before."""
    from scoring.explain import describe_en, explain

    store = await _open(db, must_exist=True)
    try:
        info = await _community(store, community)
        member = await store.find_member(info.ref, user)
        if member is None:
            raise UserError(f"There is no member {user!r} in {info.ref.key} (give a user id or an exact display name).")
        table, when = await _scores(store, info, as_of or "now", period, now=datetime.now(UTC))
        window = PERIODS[period]
        then_at = when - timedelta(days=7)
        then = await ScoreService(store, clock=lambda: when).table(info.ref, then_at, window)
        names = await store.member_names(info.ref)
    finally:
        await store.close()
    me = table.get(member)
    if me is None:
        raise UserError(f"{names.get(member, member)} has no score in {info.ref.key} as of {_iso(when)} "
                        "(no activity in the window).")
    stats = table.stats(member)
    ex = explain(member, table, then)
    lines = describe_en(ex, names)
    data = {
        "community": info.ref.key, "as_of": _iso(when), "algorithm": me.algorithm, "period": period,
        "user": member, "name": names.get(member), "score": me.score, "percentile": round(me.percentile, 1),
        "rank": me.rank, "members": len(table), "influence": round(me.influence, 4), "components": _components(me),
        "stats": {"distinct_responders": stats.distinct_responders, "replies": stats.replies,
                  "mentions": stats.mentions, "reactions": stats.reactions,
                  "anonymous_reactions": stats.anonymous_reactions, "messages": stats.messages,
                  "counted_messages": stats.counted_messages, "active_days": stats.active_days},
        "change": {"since": _iso(then_at), "score_then": ex.score_then, "delta": ex.delta,
                   "new_responders": ex.new_responders, "lost_responders": ex.lost_responders,
                   "contributors": [{"user": c.responder, "name": names.get(c.responder),
                                     "credit_now": round(c.credit_now, 4), "credit_then": round(c.credit_then, 4),
                                     "new": c.is_new} for c in ex.contributors]},
        "explanation": lines,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    con = _console()
    con.print(f"[bold]{data['name'] or member}[/bold] in {info.name or info.ref.key}: "
              f"[bold]{me.score}[/bold]/100 · rank {me.rank} of {len(table):,} · "
              f"{me.percentile:.0f}th percentile · {me.algorithm}, as of {_iso(when)}")
    c = data["components"]
    con.print(f"  Reach {c['reach']:.1f} — {stats.distinct_responders} distinct members responded to you")
    con.print(f"  Resonance {c['resonance']:.2f} — responses per counted message ({stats.counted_messages} counted "
              f"of {stats.messages})")
    con.print(f"  Network {c['network']:.2f} — your weight in the response network, PageRank (community average = 1)")
    con.print(f"  Activity {c['activity']:.1f} — recency-weighted days you posted ({stats.active_days} days)")
    for line in lines:
        con.print(f"  {line}")


@main.command("summary")
@click.option("--community", "-c", required=True, help="Community id, e.g. telegram:-100123.")
@click.option("--week", default=None, metavar="YYYY-Www",
              help="ISO week of the run, e.g. 2026-W47. Default: the latest week whose run is due.")
@click.option("--member", "-m", default=None, help="Show this member's personal summary instead of the digest.")
@click.option("--send", is_flag=True, help="Deliver the week's digest and personal summaries now, through the outbox.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Save the chart or card image into this folder.")
@_db_option
@_json_option
@_run
async def summary_cmd(community: str, week: str | None, member: str | None, send: bool, out_dir: Path | None,
                      db: str | None, as_json: bool) -> None:
    """Render a week's digest (or one member's summary) without sending it; --send delivers the week now."""
    from bot.summary.schedule import ScheduleError, previous_fire, scheduled_in_week, week_key

    if send and member:
        raise UserError("--send delivers the whole week; leave out --member.")
    store = await _open(db, must_exist=True)
    now = datetime.now(UTC)
    try:
        info = await _community(store, community)
        settings = await store.community_settings(info.ref)
        try:
            scheduled = scheduled_in_week(settings, week) if week else previous_fire(settings, now)
        except ValueError as exc:
            raise UserError(f"--week: {exc}") from None
        except ScheduleError as exc:
            raise UserError(str(exc)) from None
        if scheduled > now:
            raise UserError(f"The run of {week} is due at {_iso(scheduled)}, which has not come yet.")
        key = week_key(scheduled, settings.timezone)
        if send:
            report = await _send_summaries(store, db, info.ref, scheduled)
            result = {"community": info.ref.key, "week": key, "scheduled": _iso(scheduled),
                      "skipped": report.skipped, "completed": report.completed, "states": report.states}
            if as_json:
                click.echo(json.dumps(result, ensure_ascii=False, indent=2))
            elif report.skipped == "no_adapter":
                raise UserError(f"No adapter for {info.ref.platform} is available to send with; "
                                f"set CLOUT_{info.ref.platform.upper()}_TOKEN.")
            else:
                states = ", ".join(f"{n} {state}" for state, n in sorted(report.states.items())) or "nothing to send"
                click.echo(f"{info.ref.key} {key}: {states}.")
            return
        reply, subscribers, kind, user = await _render_summary(store, info, scheduled, settings, member)
    finally:
        await store.close()
    saved = None
    if out_dir is not None and reply.image is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        saved = out_dir / reply.image.filename
        saved.write_bytes(reply.image.data)
    if as_json:
        data = {"community": info.ref.key, "week": key, "scheduled": _iso(scheduled), "kind": kind,
                "member": user, "title": reply.title, "text": list(reply.text),
                "table": ({"columns": list(reply.table.columns), "rows": [list(r) for r in reply.table.rows]}
                          if reply.table else None),
                "image": str(saved) if saved else (reply.image.filename if reply.image else None),
                "subscribers": subscribers}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(reply.plain)
    if kind == "digest":
        click.echo(f"({subscribers} personal summaries would be sent; channel: "
                   f"{settings.summary_channel or 'none set'}.)")
    if saved:
        click.echo(f"Image saved to {saved}.")


async def _render_summary(store: Any, info: Any, scheduled: datetime, settings: Any,
                          member: str | None) -> tuple[Any, int, str, str | None]:
    from bot.card import CardRenderer
    from bot.i18n import negotiate, translator
    from bot.summary.content import digest, load_week, personal

    user = None
    if member is not None:
        user = await store.find_member(info.ref, member)
        if user is None:
            raise UserError(f"There is no member {member!r} in {info.ref.key} (give a user id or an exact display name).")
    runs = await store.summary_runs(info.ref, limit=2)
    data = await load_week(store, info.ref, scheduled, settings=settings,
                           algorithm_before=next((r.algorithm for r in runs if r.algorithm), None))
    subscribers = len(await store.weekly_subscribers(info.ref))
    if user is None:
        return await digest(data, translator(settings.language)), subscribers, "digest", None
    prefs = await store.member_prefs(info.ref, user)
    renderer = CardRenderer()
    try:
        reply = await personal(data, user, translator(negotiate(prefs.locale, settings.language)), renderer)
    finally:
        renderer.close()
    return reply, subscribers, "personal", user


async def _send_summaries(store: Any, db: str | None, ref: CommunityRef, scheduled: datetime) -> Any:
    """Deliver one week through the outbox: the platform's adapter when its token is set, the console
    (printing) for console communities and for sources without a chat platform (events, imports)."""
    from rich.console import Console

    from bot.app import ADAPTERS, App
    from bot.config import load_config
    from bot.console.adapter import ConsoleAdapter
    from bot.summary.runner import SummaryRunner

    config = _replace(load_config(), database=database_url(db), scheduler=False)
    await store.close()  # the app opens its own connection to the same database
    app = await App.start(config)
    try:
        if ref.platform in ADAPTERS:
            if ref.platform in config.platforms:
                await app.start_adapters()
        else:
            app.adapters[ref.platform] = await ConsoleAdapter.for_community(  # type: ignore[assignment]
                app.commands, app.ingestor, ref, console=Console())
        runner = SummaryRunner(app.store, app.adapters, renderer=app.renderer, clock=app.clock)
        return await runner.run_week(ref, scheduled)
    finally:
        await app.stop_adapters()
        await app.close()
        await store.open()  # the caller closes it


@main.command("migrate")
@click.option("--from", "source", default=None, metavar="URL",
              help="The database to copy: a SQLite file or sqlite:/// URL, or a postgresql:// URL. "
                   "Default: $CLOUT_DATABASE, else ./clout.db.")
@click.option("--to", "target", required=True, metavar="URL",
              help="The database to copy into: a postgresql:// URL, or a SQLite file (PostgreSQL to SQLite).")
@click.option("--force", is_flag=True, help="Empty a target that already holds data, then copy.")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="Rows per committed chunk (the unit of resuming).")
@_json_option
def migrate_cmd(source: str | None, target: str, force: bool, chunk_rows: int, as_json: bool) -> None:
    """Copy a whole database between SQLite and PostgreSQL, verified by row counts and checksums.

    Stop the bot first. An interrupted run continues where it stopped when started again with the
    same arguments; a target that already holds other data is refused unless --force.
    """
    from storage.transfer import transfer

    url = database_url(source)
    with _rows_progress(enabled=not as_json) as progress:
        try:
            report = asyncio.run(transfer(url, target, force=force, chunk_rows=chunk_rows, progress=progress))
        except UserError as exc:
            _fail(str(exc))
            return
        except KeyboardInterrupt:
            click.echo("Interrupted; run the same command again to continue where it stopped.", err=True)
            sys.exit(130)
    seconds = round(report.seconds, 3)
    rate = round(report.copied / report.seconds) if report.seconds > 0 else None
    if as_json:
        click.echo(json.dumps({
            "from": report.source, "to": report.target, "status": report.status,
            "tables": [{"table": t.table, "rows": t.rows, "copied": t.copied} for t in report.tables],
            "rows": report.rows, "copied": report.copied, "seconds": seconds, "rows_per_second": rate,
        }, ensure_ascii=False, indent=2))
        return
    if report.status == "already_done":
        click.echo(f"Already done: {report.source} was copied to {report.target} ({report.rows:,} rows); "
                   "nothing to do (--force copies again).")
        return
    verb = "Resumed and copied" if report.status == "resumed" else "Copied"
    click.echo(f"{verb} {report.copied:,} rows in {len(report.tables)} tables from {report.source} to "
               f"{report.target} in {seconds:.1f} s; row counts and checksums match ({report.rows:,} rows).")


class _rows_progress:
    """A Rich progress bar over the rows of a migration, shown only on a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[str, int, int], None] | None:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), transient=True, console=_stderr_console())
        self._bar.start()
        self._task = self._bar.add_task("", total=None)

        def update(table: str, done: int, total: int) -> None:
            self._bar.update(self._task, description=table, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


@main.command("run")
@_db_option
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="A TOML configuration file (default: $CLOUT_CONFIG, else ./clout.toml if present).")
@click.option("--community", "-c", default=None,
              help="Community the console chats in (default: $CLOUT_CONSOLE_COMMUNITY or console:lobby).")
@click.option("--headless", is_flag=True, default=False,
              help="No console even without a platform token (services, extra processes); stop with SIGTERM.")
def run_cmd(db: str | None, config_path: Path | None, community: str | None, headless: bool) -> None:
    """Run the bot: the refresher plus every adapter whose token is set (the console when none is)."""
    from bot.app import run_app
    from bot.config import load_config
    from bot.logs import setup_logging

    try:
        config = load_config(path=config_path)
        if db:
            config = _replace(config, database=db)
        if headless:
            config = _replace(config, headless=True)
        ref = CommunityRef.parse(community) if community else None
    except ValueError as exc:
        _fail(str(exc))
        return
    except UserError as exc:
        _fail(str(exc))
        return
    setup_logging(config.log_level)
    try:
        asyncio.run(run_app(config, community=ref))
    except UserError as exc:
        _fail(str(exc))


@main.group("discord")
def discord_group() -> None:
    """Discord: upload the bot's slash commands (see docs/discord.md)."""


@discord_group.command("sync")
@click.option("--guild", type=int, default=None, metavar="ID",
              help="Sync to one server only (shows at once; for development). Default: globally.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="A TOML configuration file (default: $CLOUT_CONFIG, else ./clout.toml if present).")
def discord_sync(guild: int | None, config_path: Path | None) -> None:
    """Upload the slash commands to Discord. Run it after installing or upgrading Clout, not on every start."""
    from bot.config import load_config
    from bot.discord.adapter import sync_commands  # imports discord.py only for this command

    try:
        config = load_config(path=config_path)
        count = asyncio.run(sync_commands(config, guild))
    except UserError as exc:
        _fail(str(exc))
        return
    where = f"server {guild}" if guild is not None else "all servers (global; may take up to an hour to appear)"
    click.echo(f"Synced {count} commands to {where}.")


def _replace(config: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(config, **changes)


@main.command("demo")
@click.option("--db", "db", metavar="PATH", default=None,
              help="Keep the demo in this database file (default: a temporary one, deleted on exit).")
@click.option("--members", type=click.IntRange(5, 5_000), default=60, show_default=True)
@click.option("--messages", type=click.IntRange(100, 500_000), default=3_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def demo_cmd(db: str | None, members: int, messages: int, seed: int) -> None:
    """Build a synthetic community (12 weeks ending now), score it, and open the console on it."""
    import tempfile

    from bot.app import run_app
    from bot.config import Config
    from bot.demo import build_demo
    from bot.logs import setup_logging

    setup_logging("WARNING")

    async def go(path: str) -> None:
        from storage import open_store

        store = open_store(path)
        await store.open()
        try:
            ref = await build_demo(store, datetime.now(UTC), members=members, messages=messages, seed=seed)
        finally:
            await store.close()
        click.echo(f"Demo community {ref.key}: {members} members, about {messages:,} messages over 12 weeks "
                   "(synthetic, made-up names). Try /leaderboard, /score, `as NAME`, `say hello`, help.")
        await run_app(Config(database=path, refresh_interval=5.0), community=ref)

    try:
        if db:
            asyncio.run(go(db))
        else:
            with tempfile.TemporaryDirectory(prefix="clout-demo-") as tmp:
                asyncio.run(go(str(Path(tmp) / "demo.db")))
    except UserError as exc:
        _fail(str(exc))
