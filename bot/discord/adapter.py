"""The Discord adapter: a discord.py client in the app's event loop that ingests gateway events,
backfills history missed while offline, answers slash commands and delivers scheduled replies.

Started with `login` + a task running `connect` (never `Client.run`, which owns the loop and the
signals). With `discord_shards` set it is an `AutoShardedClient` (count "auto" or N, and optionally
only `discord_shard_ids` in this process). Events go through one queue into `Ingestor.event`, in
gateway order, so `stop` can hand every received event to the ingestor before it returns.

Backfill: on start and after every reconnect (READY or RESUMED) and when a server is added, every
readable text channel and active thread is read after the newest message the store has for it
(`latest_message_ids`) or seen since, but never further back than the scoring window; channels are
read one after another with a pause between them, and discord.py's rate limiter paces the pages. A
channel whose last_message_id (from GUILD_CREATE) is not newer is skipped without a request, except
after a RESUME, when that value may be stale.
Ingest is idempotent, so reading a message twice changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord import app_commands

from bot.chat.delivery import DeliveryFailed, DestinationGone, Unreachable
from bot.chat.reply import Context, Reply
from bot.chat.service import PERIODS
from bot.discord.events import (
    PLATFORM,
    channel_key,
    community_of,
    delete_event,
    message_event,
    raw_message_event,
    reaction_event,
)
from bot.discord.render import BUTTON_TIMEOUT, ButtonsView, message_kwargs
from bot.discord.slash import CatalogTranslator, build_tree
from scoring.errors import UserError
from scoring.model import CommunityRef, Event

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Config

__all__ = ["DiscordAdapter", "DiscordSetupError", "create", "intents", "privileged_intent_message", "sync_commands"]

log = logging.getLogger(__name__)

BACKFILL_WINDOW = timedelta(days=PERIODS["all"])
GONE_CODES = {10003, 50001, 50013}   # unknown channel, missing access, missing permissions
DM_CLOSED = 50007                   # cannot send messages to this user
UNKNOWN_USER = 10013
_BACKFILL_QUEUE = 5_000             # events backfill may queue before it waits for the ingestor
_NONCE = 25                         # Discord's nonce limit (characters)
_PORTAL = "https://discord.com/developers/applications"
_SWITCHES = (("members", "Server Members Intent"), ("presences", "Presence Intent"),
             ("message_content", "Message Content Intent"))


class DiscordSetupError(UserError):
    """The bot cannot connect for a reason the operator fixes (token, portal switches)."""


def intents() -> discord.Intents:
    """What Clout needs, none of it privileged: servers, their messages (without content) and reactions."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.guild_reactions = True
    return wanted


def privileged_intent_message(requested: discord.Intents) -> str:
    """What to tell the operator when the gateway closes with 4014."""
    switches = [label for flag, label in _SWITCHES if getattr(requested, flag)]
    if switches:
        where = " and ".join(f'"{s}"' for s in switches)
        return (f"Discord refused the connection (close code 4014): this bot asks for {where}, which is "
                f"not enabled. In the Discord Developer Portal ({_PORTAL}) open your application → Bot → "
                f"Privileged Gateway Intents, turn on {where}, save, and start Clout again.")
    return ("Discord refused the connection (close code 4014, privileged intent not enabled), although Clout "
            "asks for no privileged intent. Check that CLOUT_DISCORD_TOKEN belongs to the application you "
            f"configured in the Discord Developer Portal ({_PORTAL}).")


def _nonce(nonce: str | None) -> str | None:
    """A resend-recognisable nonce within Discord's 25 characters (a hash of the caller's key)."""
    if nonce is None:
        return None
    return nonce if len(nonce) <= _NONCE else hashlib.sha256(nonce.encode()).hexdigest()[:_NONCE]


class DiscordAdapter:
    """Implements bot.chat.delivery.Adapter for Discord."""

    platform = PLATFORM

    def __init__(self, app: App, *, guild_ready_timeout: float = 2.0, identify_delay: float = 5.0,
                 backfill_pause: float = 0.1, start_timeout: float = 60.0, defer_after: float = 2.0,
                 wanted: discord.Intents | None = None) -> None:
        config = app.config
        if not config.discord_token:
            raise DiscordSetupError("Set CLOUT_DISCORD_TOKEN to run the Discord adapter (see docs/discord.md).")
        self.app = app
        self.identify_delay = identify_delay
        self.backfill_pause = backfill_pause
        self.start_timeout = start_timeout
        self.defer_after = defer_after
        self.button_timeout = BUTTON_TIMEOUT    # seconds a reply's buttons keep working
        self.intents = wanted or intents()
        self.client = _client(config, self.intents, guild_ready_timeout)
        self.tree = build_tree(self.client, self)
        self.ready = asyncio.Event()
        self.backfilled = 0                     # messages read from history
        self._ingested = _Counter()             # events handed to the ingestor
        self._backfills = _Counter()            # completed backfill passes
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._seen: dict[int, int] = {}         # channel/thread id -> newest message id seen in this process
        self._wanted: set[int] | None = set()   # guilds waiting for backfill (None: all)
        self._trust_last = True                 # channels' last_message_id is fresh (from GUILD_CREATE)
        self._backfill_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._connect: asyncio.Task[None] | None = None
        self._install()

    # -- lifecycle --------------------------------------------------------------------------------
    def _install(self) -> None:
        c = self.client
        c.setup_hook = self._setup_hook  # type: ignore[method-assign]
        c.before_identify_hook = self._before_identify  # type: ignore[method-assign]
        for name in ("on_ready", "on_resumed", "on_guild_join", "on_guild_available", "on_message",
                     "on_raw_reaction_add", "on_raw_reaction_remove", "on_raw_message_delete",
                     "on_raw_bulk_message_delete"):
            setattr(c, name, getattr(self, name))
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        # Live messages skip discord.py's Message objects (see events.raw_message_event); history
        # and everything else go through the library as usual. `parsers` is private: a smoke test
        # checks it, and without it on_message does the same job, only slower.
        parsers = getattr(c._connection, "parsers", None)
        if isinstance(parsers, dict) and "MESSAGE_CREATE" in parsers:
            parsers["MESSAGE_CREATE"] = self._parse_message_create

    async def _setup_hook(self) -> None:
        await self.tree.set_translator(CatalogTranslator())

    async def _before_identify(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Discord allows one IDENTIFY per 5 s per bucket; the first needs no wait.
        if not initial and self.identify_delay > 0:
            await asyncio.sleep(self.identify_delay)

    async def start(self) -> None:
        """Log in, connect in a background task and return once the gateway is ready (or raise)."""
        try:
            await self.client.login(self.app.config.discord_token or "")
        except discord.LoginFailure:
            await self.client.close()
            raise DiscordSetupError("Discord rejected the bot token (CLOUT_DISCORD_TOKEN): copy it again from "
                                    "the Developer Portal, application → Bot → Reset Token.") from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            await self.client.close()
            raise DiscordSetupError(f"Could not reach Discord to log in ({type(exc).__name__}); check the "
                                    "network and try again.") from None
        self._tasks = [asyncio.create_task(self._ingest_loop(), name="clout-discord-ingest"),
                       asyncio.create_task(self._backfill_loop(), name="clout-discord-backfill")]
        self._connect = asyncio.create_task(self.client.connect(reconnect=True), name="clout-discord-gateway")
        ready = asyncio.create_task(self.ready.wait())
        try:
            await asyncio.wait({self._connect, ready}, timeout=self.start_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled while connecting: leave no task behind
            await self.stop()
            raise
        finally:
            ready.cancel()
        if self._connect.done():
            error = self._connect.exception()
            await self.stop()
            raise self._explain(error) from None
        self._connect.add_done_callback(self._gateway_ended)
        if not self.ready.is_set():
            log.warning("Discord gateway not ready after %.0f s; still trying in the background", self.start_timeout)

    def _explain(self, error: BaseException | None) -> Exception:
        if isinstance(error, discord.PrivilegedIntentsRequired):
            # Raised, not logged: `clout run` prints a UserError once, as one sentence.
            return DiscordSetupError(privileged_intent_message(self.intents))
        if error is None:
            return DiscordSetupError("The Discord gateway closed before the bot was ready.")
        return DiscordSetupError(f"Could not connect to Discord: {type(error).__name__}.")

    def _gateway_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or (self.client.is_closed() and task.exception() is None):
            return
        error = task.exception()
        if isinstance(error, discord.PrivilegedIntentsRequired):
            log.error("%s", privileged_intent_message(self.intents))
        elif error is not None:
            log.error("the Discord gateway stopped: %s", type(error).__name__, exc_info=error)

    async def stop(self) -> None:
        """Close the connection, then hand every received event to the ingestor."""
        await self.client.close()
        if self._connect is not None:
            self._connect.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connect
        if self._tasks and not self._tasks[0].done():
            await self._queue.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # -- ingest -----------------------------------------------------------------------------------
    def _put(self, event: Event | None) -> None:
        if event is not None:
            self._queue.put_nowait(event)

    async def _ingest_loop(self) -> None:
        queue, ingest = self._queue, self.app.ingestor.event
        while True:
            event = await queue.get()
            try:
                await ingest(event)
                self._ingested.add()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ingesting a Discord event failed")
            finally:
                queue.task_done()

    def ingested_at_least(self, n: int) -> asyncio.Future[None]:
        """A future done once `n` events in total were handed to the ingestor (tests, benchmarks)."""
        return self._ingested.reached(n)

    def backfills_at_least(self, n: int) -> asyncio.Future[None]:
        """A future done once `n` backfill passes have finished."""
        return self._backfills.reached(n)

    def _note_seen(self, channel_id: int, message_id: int) -> None:
        if message_id > self._seen.get(channel_id, 0):
            self._seen[channel_id] = message_id

    def _parse_message_create(self, data: dict[str, Any]) -> None:
        channel_id, guild_id = int(data["channel_id"]), data.get("guild_id")
        self._note_seen(channel_id, int(data["id"]))
        guild = self.client.get_guild(int(guild_id)) if guild_id is not None else None
        channel = guild.get_channel_or_thread(channel_id) if guild is not None else None
        if isinstance(channel, discord.TextChannel | discord.Thread):
            channel.last_message_id = int(data["id"])  # what discord.py's own parser would record
        self._put(raw_message_event(data, guild, channel))

    def _channel(self, guild_id: int | None, channel_id: int) -> object:
        """A cached guild channel or thread by id (a dict lookup, not a scan of every server)."""
        guild = self.client.get_guild(guild_id) if guild_id is not None else None
        return guild.get_channel_or_thread(channel_id) if guild is not None else None

    async def on_message(self, message: discord.Message) -> None:
        self._note_seen(message.channel.id, message.id)
        self._put(message_event(message))

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        bot = self.client.user.id if self.client.user else None
        self._put(reaction_event(payload, self._channel(payload.guild_id, payload.channel_id), self.app.clock(), bot))

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.on_raw_reaction_add(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        channel = self._channel(payload.guild_id, payload.channel_id)
        self._put(delete_event(payload.guild_id, channel, payload.channel_id, payload.message_id, self.app.clock()))

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        channel = self._channel(payload.guild_id, payload.channel_id)
        for message_id in sorted(payload.message_ids):
            self._put(delete_event(payload.guild_id, channel, payload.channel_id, message_id, self.app.clock()))

    # -- backfill ---------------------------------------------------------------------------------
    async def on_ready(self) -> None:
        self.ready.set()
        self._want_backfill(None)

    async def on_resumed(self) -> None:
        # No GUILD_CREATE after a RESUME: the channels' last_message_id may be stale, so ask each one.
        self._want_backfill(None, trust_last=False)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        self._want_backfill([guild.id])

    async def on_guild_available(self, guild: discord.Guild) -> None:
        # Back after a Discord outage of that server (before READY, on_ready covers every server).
        if self.ready.is_set():
            self._want_backfill([guild.id])

    def _want_backfill(self, guilds: Iterable[int] | None, *, trust_last: bool = True) -> None:
        self._trust_last = self._trust_last and trust_last
        if guilds is None or self._wanted is None:
            self._wanted = None
        else:
            self._wanted.update(guilds)
        self._backfill_wake.set()

    async def _backfill_loop(self) -> None:
        while True:
            await self._backfill_wake.wait()
            self._backfill_wake.clear()
            wanted, self._wanted = self._wanted, set()
            trust_last, self._trust_last = self._trust_last, True
            guilds = [g for g in self.client.guilds if wanted is None or g.id in wanted]
            for guild in guilds:
                try:
                    await self.backfill_guild(guild, trust_last=trust_last)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("backfill of Discord server %s failed", guild.id)
            await self._queue.join()
            self._backfills.add()

    async def backfill_guild(self, guild: discord.Guild, *, trust_last: bool = True) -> int:
        """Read every readable channel's history after the last message seen there; returns messages read.

        With `trust_last`, a channel whose last_message_id (from GUILD_CREATE, kept current by the
        live parser) is not newer than that position is skipped without a request."""
        ref = community_of(guild.id)
        store = self.app.store
        positions = await store.latest_message_ids(ref)
        excluded = set((await store.community_settings(ref)).excluded_channels)
        floor = discord.utils.time_snowflake(self.app.clock() - BACKFILL_WINDOW)
        me = guild.me
        read = 0
        channels: list[discord.TextChannel | discord.Thread] = [*guild.text_channels, *guild.threads]
        for channel in channels:
            key = channel_key(channel, channel.id)
            if key in excluded or str(channel.id) in excluded or me is None:
                continue
            perms = channel.permissions_for(me)
            if not (perms.view_channel and perms.read_message_history):
                continue
            stored = positions.get(key, "0")
            after = max(int(stored) if stored.isdigit() else 0, self._seen.get(channel.id, 0), floor)
            last = channel.last_message_id
            if trust_last and (last is None or last <= after):
                continue  # Discord says nothing (newer) was posted there: no request needed
            try:
                async for message in channel.history(limit=None, after=discord.Object(id=after), oldest_first=True):
                    self._note_seen(channel.id, message.id)
                    event = message_event(message)
                    if event is not None:
                        await self._queue.put(event)
                    read += 1
                    if self._queue.qsize() >= _BACKFILL_QUEUE:
                        await self._queue.join()  # 90 days of a busy channel must not sit in memory
            except discord.Forbidden:
                continue  # permissions changed since the cache saw them
            if self.backfill_pause > 0:
                await asyncio.sleep(self.backfill_pause)
        self.backfilled += read
        if read:
            log.info("backfilled %d messages of Discord server %s", read, guild.id)
        return read

    # -- slash commands ---------------------------------------------------------------------------
    def context(self, interaction: discord.Interaction) -> Context:
        guild_id = interaction.guild_id
        channel = interaction.channel
        perms = interaction.permissions
        return Context(
            platform=PLATFORM, user=str(interaction.user.id), now=self.app.clock(),
            community=community_of(guild_id) if guild_id is not None else None,
            channel=channel_key(channel, interaction.channel_id) if guild_id and interaction.channel_id else None,
            name=interaction.user.display_name, locale=interaction.locale.value,
            is_admin=guild_id is not None and (perms.manage_guild or perms.administrator))

    def resolve_channel(self, interaction: discord.Interaction, value: str) -> str:
        """'#general' or 'general' typed into /settings → that channel's id, when this server has it."""
        guild = interaction.guild
        name = value.strip().removeprefix("#").casefold()
        if guild is not None and name and not name.isdigit():
            for channel in guild.text_channels:
                if channel.name.casefold() == name:
                    return str(channel.id)
        return value

    async def run(self, interaction: discord.Interaction, name: str, args: list[str]) -> None:
        """Run a command for an interaction and answer it; slow commands are deferred first."""
        task = asyncio.ensure_future(self.app.commands.dispatch(self.context(interaction), name, args))
        done, _ = await asyncio.wait({task}, timeout=self.defer_after)
        if task in done:
            reply = task.result()
            view = self._view(reply)
            await interaction.response.send_message(**message_kwargs(reply), ephemeral=_ephemeral(reply),
                                                    **({"view": view} if view else {}))
            if view is not None:
                view.interaction = interaction
            await self._follow(reply, interaction.edit_original_response)
            return
        # Discord wants an answer within 3 s; privacy must be chosen now: guess from the command.
        private = name not in ("score", "leaderboard", "help", "settings")
        await interaction.response.defer(ephemeral=private, thinking=True)
        reply = await task
        view = self._view(reply)
        if _ephemeral(reply) and not private:
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
        sent = await interaction.followup.send(**message_kwargs(reply), ephemeral=_ephemeral(reply), wait=True,
                                               **({"view": view} if view else {}))
        await self._follow(reply, sent.edit)

    @staticmethod
    async def _follow(reply: Reply, edit: Callable[..., Awaitable[object]]) -> None:
        """The image that follows a reply (the score card) into the message already sent: the answer
        goes out at once, the embed shows the card when it is made (or the note that it cannot be)."""
        if reply.later is None:
            return
        done = await reply.completed()
        kwargs = message_kwargs(done)
        files = kwargs.pop("files", [])
        try:
            await edit(**kwargs, attachments=files)
        except discord.HTTPException as exc:  # the text answer stands; the card is a bonus
            log.info("could not add the card to a Discord reply: %s", exc)

    def _view(self, reply: Reply) -> ButtonsView | None:
        return ButtonsView(reply.buttons, self._press, timeout=self.button_timeout) if reply.buttons else None

    async def _press(self, interaction: discord.Interaction, command: str, view: ButtonsView) -> None:
        name, *args = command.split()
        # A button edits its message in one response: wait for an image that follows.
        reply = await (await self.app.commands.dispatch(self.context(interaction), name, args)).completed()
        new_view = self._view(reply)
        view.stop()
        on_ephemeral = interaction.message is not None and interaction.message.flags.ephemeral
        extra = {"view": new_view}
        if on_ephemeral or not _ephemeral(reply):
            kwargs = message_kwargs(reply)
            files = kwargs.pop("files", [])
            await interaction.response.edit_message(**kwargs, attachments=files, **extra)
        else:
            await interaction.response.send_message(**message_kwargs(reply), ephemeral=True,
                                                    **({"view": new_view} if new_view else {}))
        if new_view is not None:
            new_view.interaction = interaction

    async def _on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("Discord command %s failed: %s", getattr(interaction.command, "name", "?"), type(error).__name__,
                  exc_info=error)

    # -- delivery ---------------------------------------------------------------------------------
    async def post(self, community: CommunityRef, channel: str, reply: Reply, *, nonce: str | None = None) -> None:
        """Post a reply in a channel of a server (raises DestinationGone / DeliveryFailed)."""
        if not channel.isdigit():
            raise DestinationGone(f"{channel!r} is not a Discord channel id")
        target = self.client.get_channel(int(channel)) or self.client.get_partial_messageable(int(channel))
        await self._send(target, reply, nonce, dm=False)  # type: ignore[arg-type]

    async def dm(self, user: str, reply: Reply, *, nonce: str | None = None) -> None:
        """DM a member; a member who closed DMs raises Unreachable (do not retry)."""
        if not user.isdigit():
            raise Unreachable(f"{user!r} is not a Discord user id")
        try:
            channel = await self.client.create_dm(discord.Object(id=int(user)))
        except discord.HTTPException as exc:
            raise self._classify(exc, dm=True) from None
        await self._send(channel, reply, nonce, dm=True)

    async def _send(self, target: discord.abc.Messageable, reply: Reply, nonce: str | None, *, dm: bool) -> None:
        reply = await reply.completed()  # deliveries are not interactive: one message, nonce and all
        view = self._view(reply)
        try:
            await target.send(**message_kwargs(reply), nonce=_nonce(nonce), **({"view": view} if view else {}))
        except discord.HTTPException as exc:
            raise self._classify(exc, dm=dm) from None

    @property
    def ingested(self) -> int:
        return self._ingested.value

    @property
    def backfills(self) -> int:
        return self._backfills.value

    @staticmethod
    def _classify(exc: discord.HTTPException, *, dm: bool) -> Exception:
        code = exc.code
        if code == DM_CLOSED or (dm and code == UNKNOWN_USER):
            return Unreachable("the member does not accept direct messages from the bot", code=code)
        if code in GONE_CODES or isinstance(exc, discord.NotFound):
            return DestinationGone("the channel is gone or the bot may not post there", code=code)
        return DeliveryFailed(f"Discord answered {exc.status}", code=code)


class _Counter:
    """A count that tests and benchmarks can await reaching a value (no polling, no sleeping)."""

    def __init__(self) -> None:
        self.value = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def add(self, n: int = 1) -> None:
        self.value += n
        if self._waiters:
            self._wake()

    def reached(self, n: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, future))
        self._wake()
        return future

    def _wake(self) -> None:
        waiting = []
        for n, future in self._waiters:
            if future.done():
                continue
            if self.value >= n:
                future.set_result(None)
            else:
                waiting.append((n, future))
        self._waiters = waiting


def _ephemeral(reply: Reply) -> bool:
    return reply.private or reply.error


def _client(config: Config, wanted: discord.Intents, guild_ready_timeout: float) -> discord.Client:
    options: dict[str, Any] = {
        "intents": wanted, "max_messages": None, "chunk_guilds_at_startup": False,
        "member_cache_flags": discord.MemberCacheFlags.none(), "guild_ready_timeout": guild_ready_timeout,
        "allowed_mentions": discord.AllowedMentions.none(), "enable_debug_events": False,
    }
    if config.discord_shards is None:
        return discord.Client(**options)
    if config.discord_shards != "auto":
        options["shard_count"] = int(config.discord_shards)
    if config.discord_shard_ids is not None:
        options["shard_ids"] = list(config.discord_shard_ids)
    return discord.AutoShardedClient(**options)


def create(app: App) -> DiscordAdapter:
    """The factory bot.app.ADAPTERS names: an unstarted adapter for the app's configuration."""
    return DiscordAdapter(app)


async def sync_commands(config: Config, guild: int | None = None) -> int:
    """Upload the command tree to Discord (one server, or globally); returns how many commands.

    A deliberate step (`clout discord sync`): global sync is rate limited and takes up to an hour to
    show everywhere; a server sync shows at once (use it while developing).
    """
    if not config.discord_token:
        raise DiscordSetupError("Set CLOUT_DISCORD_TOKEN to sync the Discord commands (see docs/discord.md).")
    client = discord.Client(intents=intents())
    tree = build_tree(client, _NoResponder())

    async def setup() -> None:
        await tree.set_translator(CatalogTranslator())

    client.setup_hook = setup  # type: ignore[method-assign]
    try:
        try:
            await client.login(config.discord_token)
        except discord.LoginFailure:
            raise DiscordSetupError("Discord rejected the bot token (CLOUT_DISCORD_TOKEN).") from None
        target = discord.Object(id=guild) if guild is not None else None
        if target is not None:
            tree.copy_global_to(guild=target)
        try:
            synced = await tree.sync(guild=target)
        except discord.Forbidden:
            raise DiscordSetupError(f"The bot may not add commands to server {guild}: invite it with the "
                                    "applications.commands scope (docs/discord.md).") from None
        return len(synced)
    finally:
        await client.close()


class _NoResponder:
    """Sync only uploads the tree; nothing runs."""

    async def run(self, interaction: discord.Interaction, name: str, args: list[str]) -> None:
        raise RuntimeError("commands do not run while syncing")

    def resolve_channel(self, interaction: discord.Interaction, value: str) -> str:
        return value
