"""The Telegram adapter: python-telegram-bot 22 driven by hand inside the app's event loop.

Group updates become Events for the Ingestor (see `bot.telegram.events` for the conventions shared
with the Desktop-export importer); commands go to the shared command layer and its neutral replies
come back as HTML messages, photos and documents. All handlers are registered in `_register`.

Start: initialize → start → updater.start_polling(allowed_updates=ALLOWED_UPDATES) (or a webhook
server when CLOUT_TELEGRAM_WEBHOOK_URL is set); never run_polling, which would own the loop.
Sending goes through AIORateLimiter (30/s overall, 20/min per group, 429s retried).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Chat,
    ChatMember,
    ChatMemberUpdated,
    InputFile,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    MessageReactionCountUpdated,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    MessageReactionHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.chat.commands import COMMANDS
from bot.chat.delivery import DeliveryFailed, DestinationGone, Unreachable
from bot.chat.reply import Context, Reply
from bot.config import ConfigError
from bot.i18n import Translator, negotiate, translator
from bot.telegram.events import (
    GROUP_TYPES,
    PLATFORM,
    community_of,
    message_event,
    raw_message_event,
    reaction_count_events,
    reaction_events,
    topic_of,
)
from bot.telegram.render import CAPTION_LIMIT, html_text, keyboard
from scoring.model import CommunityRef, Event, Kind, UserRef

if TYPE_CHECKING:
    from bot.app import App

__all__ = ["ALLOWED_UPDATES", "PRIVATE_COMMANDS", "TelegramAdapter", "create"]

log = logging.getLogger(__name__)

# Telegram remembers allowed_updates server-side: always send the whole list, or reactions stop.
ALLOWED_UPDATES = ("message", "edited_message", "message_reaction", "message_reaction_count", "chat_member",
                   "my_chat_member", "callback_query")
# Commands that make sense in a private chat with the bot (the others need a community).
PRIVATE_COMMANDS = ("score", "link", "mydata", "forgetme", "help")
PRIVACY_NOTICE = "privacy-mode"
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})
GONE_STATUSES = frozenset({ChatMember.LEFT, ChatMember.BANNED})
ADMIN_TTL = 600.0          # seconds an "is the bot admin here" answer is trusted
MAX_COUNTED_MESSAGES = 50_000  # messages whose last anonymous reaction count is remembered
CONCURRENT_UPDATES = 64    # a slow /score card must not hold up ingest
MAX_USERNAME_CACHE = 200   # communities whose username map is kept in memory
MAX_USERNAMES = 100_000    # usernames (known and unknown) kept per community
_START_PAYLOAD = re.compile(r"^([wg])(-?\d{1,20})$")
_FIRST_SENTENCE = re.compile(r"[.;](?:\s|$)")

Configure = Callable[[ApplicationBuilder], ApplicationBuilder]


@dataclass(slots=True)
class _Names:
    """A community's usernames as far as this process knows them."""

    by_name: dict[str, str | None] = field(default_factory=dict)  # None: looked up, unknown
    by_user: dict[str, str] = field(default_factory=dict)


def create(app: App) -> TelegramAdapter:
    """The factory `bot.app.ADAPTERS` names: an unstarted adapter for the configured token."""
    return TelegramAdapter(app)


def default_rate_limiter() -> AIORateLimiter:
    """Pacing that keeps every sliding window within Telegram's limits (30/s, 20/min per group).

    AIORateLimiter uses leaky buckets (aiolimiter): a bucket of N per T allows a burst of N and then
    N/T per second, so PTB's defaults (30 per 1 s, 20 per 60 s) let 60 sends into one second and 40
    into one group's minute. A bucket of C with rate r sees at most C + r·W sends in a window W:
    10 per 0.5 s gives 10 + 20 = 30 in any second (20/s steady), 10 per 60 s gives 10 + 10 = 20 in
    any minute per group (10/min steady, then one every 6 s). max_retries: PTB's default 0 turns a
    429 into RetryAfter at once; retry after the wait instead.
    """
    return AIORateLimiter(overall_max_rate=10, overall_time_period=0.5, group_max_rate=10, group_time_period=60,
                          max_retries=3)


class FastPathRequest(HTTPXRequest):
    """The getUpdates connection: hands each batch's JSON to `handle` before PTB builds objects of it.

    `handle` ingests what it can read directly (plain group text messages) and returns the updates
    PTB should still process (see `TelegramAdapter._fast_updates`).
    """

    def __init__(self, handle: Callable[[list[Any]], Awaitable[list[Any]]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handle = handle

    async def post(self, url: str, *args: Any, **kwargs: Any) -> Any:
        result = await super().post(url, *args, **kwargs)
        if url.endswith("/getUpdates") and isinstance(result, list) and result:
            return await self._handle(result)
        return result


class TelegramAdapter:
    """One bot token: ingest, commands, privacy-mode guidance and delivery hooks."""

    platform = PLATFORM

    def __init__(self, app: App, *, configure: Configure | None = None,
                 rate_limiter: AIORateLimiter | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.configure = configure  # tests point the builder at a loopback fake here
        self.rate_limiter = rate_limiter or default_rate_limiter()
        self.monotonic = monotonic
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self.sees_all = False       # bot.can_read_all_group_messages (privacy mode off)
        self._admin: dict[int, tuple[float, bool]] = {}       # chat id -> (checked at, bot is admin)
        self._noticed: set[int] = set()                       # chats whose privacy notice is settled
        self._dm: dict[str, bool] = {}                        # user id -> may DM (cache of the store)
        self._usernames: OrderedDict[CommunityRef, _Names] = OrderedDict()
        self._pending: dict[CommunityRef, dict[str, str]] = {}  # usernames not yet written
        self._writer: asyncio.Task[None] | None = None
        # Emojis of the last anonymous count seen per message: Telegram lists only emojis still
        # present, so one that vanished is recorded as 0 (bounded; after a restart a vanished emoji
        # is missed until the message's next count update names it again).
        self.fast_path_messages = 0  # group messages ingested from getUpdates' JSON (see FastPathRequest)
        self._counted: OrderedDict[tuple[CommunityRef, str], frozenset[str]] = OrderedDict()

    # -- lifecycle --------------------------------------------------------------------------------
    def build(self) -> Application[Any, Any, Any, Any, Any, Any]:
        """The Application with every handler registered (not initialized)."""
        token = self.app.config.telegram_token
        if not token:
            raise ConfigError("CLOUT_TELEGRAM_TOKEN is not set.")
        builder = (ApplicationBuilder().token(token).job_queue(None).rate_limiter(self.rate_limiter)
                   .concurrent_updates(CONCURRENT_UPDATES)
                   .get_updates_request(FastPathRequest(self._fast_updates, connection_pool_size=1)))
        if self.configure is not None:
            builder = self.configure(builder)
        application = builder.build()
        self._register(application)
        return application

    async def start(self) -> None:
        """initialize (getMe) → command menus → start → polling or webhook; returns once running."""
        # httpx logs every request URL at INFO, and the URL contains the token.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        application = self.application = self.build()
        try:
            await application.initialize()
        except InvalidToken:
            raise ConfigError("Telegram rejected CLOUT_TELEGRAM_TOKEN. Copy the token again from @BotFather.") from None
        try:
            self.sees_all = bool(application.bot.can_read_all_group_messages)
            if not self.sees_all:
                log.warning("Telegram privacy mode is on for @%s: in groups where it is not an admin it sees only "
                            "commands. BotFather: /setprivacy -> Disable (see docs/telegram.md).",
                            application.bot.username)
            await self._set_commands()
            await application.start()
            assert application.updater is not None
            url = self.app.config.telegram_webhook_url
            if url:
                host, _, port = self.app.config.telegram_webhook_listen.rpartition(":")
                if not port.isdigit() or not 0 <= int(port) <= 65535:
                    raise ConfigError("telegram_webhook_listen (CLOUT_TELEGRAM_WEBHOOK_LISTEN) must look like "
                                      "127.0.0.1:8443.")
                await application.updater.start_webhook(
                    listen=host.strip("[]") or "127.0.0.1", port=int(port), url_path=urlsplit(url).path.lstrip("/"),
                    webhook_url=url, secret_token=self.app.config.telegram_webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES))
            else:
                await application.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
        except BaseException:
            await self._shutdown(application)
            raise

    async def stop(self) -> None:
        """Stop receiving (polling or webhook), let running handlers finish, close the HTTP clients."""
        if self.application is not None:
            await self._shutdown(self.application)
            self.application = None
        if self._writer is not None:
            await self._writer
        await self.flush_usernames()

    @staticmethod
    async def _shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

    def _register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Every handler, in one place. Group -1 ingests (commands are messages too), group 0 answers."""
        new_message = filters.UpdateType.MESSAGE
        application.add_handler(MessageHandler(filters.ChatType.GROUPS & new_message, self.on_group_message), -1)
        application.add_handler(MessageHandler(filters.ChatType.PRIVATE & new_message, self.on_private_message), -1)
        for name in COMMANDS:
            application.add_handler(CommandHandler(name, self.on_command, filters=new_message))
        application.add_handler(CommandHandler("start", self.on_start, filters=new_message))
        application.add_handler(MessageReactionHandler(self.on_reaction))
        application.add_handler(ChatMemberHandler(self.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
        application.add_handler(ChatMemberHandler(self.on_chat_member, ChatMemberHandler.CHAT_MEMBER))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_error_handler(self.on_error)

    async def _set_commands(self) -> None:
        """The command menu per scope (groups, private chats) and language (default English, German)."""
        bot = self._bot
        for language in ("en", "de"):
            tr = translator(language)
            menu = {name: BotCommand(name, _short(tr.gettext(spec.help))) for name, spec in COMMANDS.items()}
            code = None if language == "en" else language
            try:
                await bot.set_my_commands(list(menu.values()), scope=BotCommandScopeAllGroupChats(), language_code=code)
                await bot.set_my_commands([menu[n] for n in PRIVATE_COMMANDS if n in menu],
                                          scope=BotCommandScopeAllPrivateChats(), language_code=code)
            except TelegramError as exc:  # a missing menu is no reason not to run
                log.warning("setting the Telegram command menu (%s) failed: %s", language, exc)

    @property
    def _bot(self) -> Any:
        assert self.application is not None, "the adapter is not started"
        return self.application.bot

    # -- ingest -----------------------------------------------------------------------------------
    async def on_group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A new group message: learn the author's username, then hand the event to the ingestor."""
        message = update.message
        if message is None:
            return
        ref = community_of(message.chat)
        event = await message_event(message, lambda name: self._resolve(ref, name),
                                    bot_username=self._bot.username)
        if event is None:
            return
        author = message.from_user
        await self._ingest_message(event, author.username if author is not None else None, message.chat.id,
                                   message.text)

    async def _ingest_message(self, event: Event, username: str | None, chat_id: int, text: str | None) -> None:
        """One counted group message (from either path): exclusion, ingest, username, privacy state."""
        ref = event.community
        if event.channel is None and ref.id in (await self.app.ingestor.settings(ref)).excluded_channels:
            return  # the whole group (or a forum's General topic) was excluded with "/settings exclude here"
        # Only members whose events are kept (not opted out; joined in an opt-in group) leave a username.
        if await self.app.ingestor.event(event) and username and event.actor is not None:
            await self._learn(ref, username, event.actor)
        if chat_id not in self._noticed and not (text or "").startswith("/"):
            self._noticed.add(chat_id)  # it sees ordinary messages: no privacy notice needed

    async def _fast_updates(self, updates: list[Any]) -> list[Any]:
        """Ingest plain group text messages straight from getUpdates' JSON; return the rest for PTB.

        When the batch's last update was taken here, a bare `{"update_id": N}` stands in for it, so
        PTB still confirms the whole batch with its next offset (an empty update matches no handler).
        """
        kept = []
        for raw in updates:
            try:
                taken = await self._ingest_raw(raw)
            except asyncio.CancelledError:
                raise
            except Exception:  # never stall polling on one odd update: PTB's path handles (and reports) it
                log.exception("the fast path failed on an update; handing it to the normal path")
                taken = False
            if not taken:
                kept.append(raw)
        if updates and (not kept or kept[-1] is not updates[-1]):
            kept.append({"update_id": updates[-1]["update_id"]})
        return kept

    async def _ingest_raw(self, raw: Any) -> bool:
        """True when the update was a plain group text message and went through the ingest path."""
        if not isinstance(raw, dict) or self.application is None:
            return False
        message = raw.get("message")
        if not isinstance(message, dict):
            return False
        chat_id = (message.get("chat") or {}).get("id")
        ref = CommunityRef(PLATFORM, str(chat_id))
        event = await raw_message_event(raw, lambda name: self._resolve(ref, name), bot_username=self._bot.username)
        if event is None:
            return False
        self.fast_path_messages += 1
        await self._ingest_message(event, message["from"].get("username"), chat_id, message.get("text"))
        return True

    async def on_reaction(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Named reactions (the store finds the author from its log) and anonymous counts."""
        events = []
        if update.message_reaction is not None:
            events = reaction_events(update.message_reaction)
        elif update.message_reaction_count is not None:
            events = self._with_vanished(reaction_count_events(update.message_reaction_count),
                                         update.message_reaction_count)
        for event in events:
            if event.community.id in (await self.app.ingestor.settings(event.community)).excluded_channels:
                return  # the whole group is excluded (a reaction does not say which topic it is in)
            await self.app.ingestor.event(event)

    def _with_vanished(self, events: list[Event], update: MessageReactionCountUpdated) -> list[Event]:
        """Add a count of 0 for every emoji the previous count update of this message had and this lacks."""
        if update.chat.type not in GROUP_TYPES:
            return events
        key = (community_of(update.chat), str(update.message_id))
        now = frozenset(e.emoji or "" for e in events)
        before = self._counted.pop(key, frozenset())
        self._counted[key] = now
        while len(self._counted) > MAX_COUNTED_MESSAGES:
            self._counted.popitem(last=False)
        gone = sorted(before - now)
        return events + [Event(kind=Kind.REACTION_COUNT, community=key[0], ts=update.date, message_id=key[1],
                               emoji=emoji, count=0) for emoji in gone]

    async def on_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Someone joined or changed: learn their username so @mentions of them resolve."""
        change = update.chat_member
        if change is None or change.chat.type not in GROUP_TYPES:
            return
        user = change.new_chat_member.user
        if user.is_bot or not user.username or change.new_chat_member.status in GONE_STATUSES:
            return
        ref = community_of(change.chat)
        prefs = await self.app.store.member_prefs(ref, str(user.id))
        if not prefs.opted_out:  # an opted-out member leaves no trace, not even a username
            await self._learn(ref, user.username, str(user.id))

    async def _learn(self, ref: CommunityRef, username: str, user: str) -> None:
        """Remember a member's current username; the write happens in the background, batched."""
        names = self._names_of(ref)
        key = username.casefold()
        if names.by_user.get(user) == key:
            return
        old = names.by_user.get(user)
        if old is not None:
            names.by_name.pop(old, None)
        names.by_user[user] = key
        names.by_name[key] = user
        self._pending.setdefault(ref, {})[key] = user
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self.flush_usernames(), name="clout-telegram-usernames")

    async def flush_usernames(self) -> None:
        """Write the usernames learned so far (one store call per community and round)."""
        while self._pending:
            ref, names = self._pending.popitem()
            try:
                await self.app.store.remember_usernames(ref, names)
            except Exception:  # a lost username only means a mention stays "@name"
                log.exception("saving Telegram usernames failed")

    async def _resolve(self, ref: CommunityRef, username: str) -> str | None:
        names = self._names_of(ref)
        if username in names.by_name:
            return names.by_name[username]  # None: looked up before and unknown
        user = await self.app.store.user_by_username(ref, username)
        if username not in names.by_name:  # learned meanwhile: keep that
            names.by_name[username] = user
        return names.by_name[username]

    def _names_of(self, ref: CommunityRef) -> _Names:
        names = self._usernames.get(ref)
        if names is None:
            names = self._usernames[ref] = _Names()
            while len(self._usernames) > MAX_USERNAME_CACHE:
                self._usernames.popitem(last=False)
        else:
            self._usernames.move_to_end(ref)
            if len(names.by_name) > MAX_USERNAMES:
                names.by_name.clear()
                names.by_user.clear()
        return names

    # -- privacy mode -----------------------------------------------------------------------------
    async def on_my_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot was added, promoted or removed: keep the admin cache right; tell a new group once."""
        change: ChatMemberUpdated | None = update.my_chat_member
        if change is None or change.chat.type not in GROUP_TYPES:
            return
        chat = change.chat
        status = change.new_chat_member.status
        if status in GONE_STATUSES:
            self._admin.pop(chat.id, None)
            self._noticed.discard(chat.id)
            return
        self._admin[chat.id] = (self.monotonic(), status in ADMIN_STATUSES)
        if change.old_chat_member.status in GONE_STATUSES:
            await self._maybe_notice(chat)

    async def _bot_is_admin(self, chat: Chat) -> bool:
        cached = self._admin.get(chat.id)
        if cached is not None and self.monotonic() - cached[0] < ADMIN_TTL:
            return cached[1]
        try:
            member = await self._bot.get_chat_member(chat.id, self._bot.id)
            admin = member.status in ADMIN_STATUSES
        except TelegramError as exc:
            log.info("could not read the bot's rights in %s: %s", chat.id, exc)
            admin = False
        self._admin[chat.id] = (self.monotonic(), admin)
        return admin

    async def _maybe_notice(self, chat: Chat) -> None:
        """Post the privacy-mode note once per group (ever) when the bot cannot see ordinary messages."""
        if self.sees_all or chat.id in self._noticed:
            return
        if await self._bot_is_admin(chat):
            return  # admins see every message (and reactions) whatever the privacy mode
        self._noticed.add(chat.id)
        ref = community_of(chat)
        if not await self.app.store.claim_notice(ref, PRIVACY_NOTICE):
            return
        tr = await self._community_tr(ref, None)
        note = Reply(text=(tr.gettext(
            "I can only see commands in this group, so nobody here can be scored yet. An admin can fix this: "
            "in @BotFather send /setprivacy, choose me and pick Disable, then remove me from the group and "
            "add me again. Or make me an admin here, which also lets me count reactions."),))
        try:
            await self._send(chat.id, note)
        except TelegramError as exc:
            log.info("could not post the privacy note in %s: %s", chat.id, exc)

    async def _visibility(self, chat: Chat, tr: Translator) -> str:
        """What the bot can currently see in a group, for /settings."""
        admin = await self._bot_is_admin(chat)
        if admin:
            return tr.gettext("What I can see here: all messages and reactions (I am an admin).")
        if self.sees_all:
            return tr.gettext("What I can see here: all messages, but no reactions (make me an admin to count "
                              "reactions).")
        return tr.gettext("What I can see here: only commands and replies to me, because privacy mode is on. "
                          "Turn it off in @BotFather (/setprivacy → Disable) or make me an admin.")

    # -- commands ---------------------------------------------------------------------------------
    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command of the shared command layer, in a group or a private chat."""
        message, user, chat = update.message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or user.is_bot or not message.text:
            return
        name = message.text.split(maxsplit=1)[0].removeprefix("/").split("@", 1)[0].lower()
        group = chat.type in GROUP_TYPES
        if group:
            await self._maybe_notice(chat)
        else:
            await self._mark_dm(str(user.id), True)
        ctx = await self._context(user, chat, message, admin=name == "settings" and group)
        args = await self._arguments(message, list(context.args or ()), ctx.community)
        reply = await self.app.commands.dispatch(ctx, name, args)
        if name == "settings" and group and not reply.error and ctx.community is not None:
            tr = await self._community_tr(ctx.community, ctx.locale)
            reply = dataclasses.replace(reply, text=(*reply.text, await self._visibility(chat, tr)))
        await self._answer(chat, message, user, reply, ctx, command=name)

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start in a private chat: remember that the member can be DMed; a `w<chat>` payload turns on
        their weekly summary for that group (they must be a member of it)."""
        message, user, chat = update.message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or user.is_bot or chat.type != Chat.PRIVATE:
            return
        await self._mark_dm(str(user.id), True)
        tr = translator(negotiate(user.language_code, None))
        match = _START_PAYLOAD.match(context.args[0]) if context.args else None
        if match is not None and match.group(1) == "w":
            chat_id = int(match.group(2))
            ref = CommunityRef(PLATFORM, str(chat_id))
            if not await self._is_member(chat_id, user.id):
                reply = Reply(text=(tr.gettext("I cannot find you in that group, so I did not turn on its "
                                               "weekly summary. Use /weekly on in the group."),), error=True)
            else:
                ctx = Context(platform=PLATFORM, user=str(user.id), now=self.app.clock(), community=ref,
                              name=user.full_name, locale=user.language_code)
                reply = await self.app.commands.dispatch(ctx, "weekly", ["on"])
        else:
            reply = Reply(title=tr.gettext("Hello, I am Clout."), text=(
                tr.gettext("Add me to a group and I score how members respond to each other. In the group, "
                           "answers only you should see now come to this chat."),
                tr.gettext("Type /help to see what I can do.")))
        await self._send(chat.id, reply)

    async def on_private_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any message in a private chat means the member started the bot."""
        user = update.effective_user
        if user is not None and not user.is_bot:
            await self._mark_dm(str(user.id), True)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An inline button: run its command for whoever pressed it, then update the message in place."""
        query = update.callback_query
        if query is None or not query.data:
            return
        user = query.from_user
        message = query.message if isinstance(query.message, Message) else None
        name, *args = query.data.split()
        if message is None:
            await query.answer()
            return
        chat = message.chat
        group = chat.type in GROUP_TYPES
        ctx = await self._context(user, chat, message, admin=name == "settings" and group)
        reply = await self.app.commands.dispatch(ctx, name, args)
        if reply.error:
            await query.answer(text="\n".join(reply.text)[:200], show_alert=True)
            return
        await query.answer()
        if (reply.private and group) or reply.image is not None or reply.file is not None or reply.later is not None:
            await self._answer(chat, message, user, reply, ctx, command=name)
            return
        try:
            await query.edit_message_text(html_text(reply), parse_mode=ParseMode.HTML, reply_markup=keyboard(reply),
                                          link_preview_options=LinkPreviewOptions(is_disabled=True))
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("handling a Telegram update failed", exc_info=context.error)

    async def _context(self, user: User, chat: Chat, message: Message, *, admin: bool) -> Context:
        group = chat.type in GROUP_TYPES
        is_admin = False
        if admin:
            try:
                member = await self._bot.get_chat_member(chat.id, user.id)
                is_admin = member.status in ADMIN_STATUSES
            except TelegramError as exc:
                log.info("could not check admin rights in %s: %s", chat.id, exc)
        return Context(platform=PLATFORM, user=str(user.id), now=self.app.clock(),
                       community=community_of(chat) if group else None,
                       channel=(topic_of(message) or str(chat.id)) if group else None,
                       name=user.full_name or None, locale=user.language_code, is_admin=is_admin)

    async def _arguments(self, message: Message, args: list[str], ref: CommunityRef | None) -> list[str]:
        """Arguments with members named by Telegram itself: a text_mention's user id, a known @username's id."""
        for entity in message.entities:
            if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
                return [str(entity.user.id)]
        if ref is None:
            return args
        out = []
        for arg in args:
            user = await self._resolve(ref, arg[1:].casefold()) if arg.startswith("@") and len(arg) > 1 else None
            out.append(user or arg)
        return out

    async def _is_member(self, chat_id: int, user_id: int) -> bool:
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramError:
            return False
        return member.status not in GONE_STATUSES

    async def _community_tr(self, ref: CommunityRef, locale: str | None) -> Translator:
        return translator(negotiate(locale, (await self.app.ingestor.settings(ref)).language))

    # -- answering --------------------------------------------------------------------------------
    async def _answer(self, chat: Chat, message: Message, user: User, reply: Reply, ctx: Context, *,
                      command: str) -> None:
        """Send a command's reply: in place, or (private replies in a group) by DM or a deep link."""
        thread = message.message_thread_id if message.is_topic_message else None
        if not (reply.private and chat.type in GROUP_TYPES):
            await self._send(chat.id, reply, thread=thread)
            return
        tr = await self._community_tr(ctx.community, ctx.locale) if ctx.community else translator("en")
        if await self._dm_open(str(user.id)):
            try:
                await self._send(user.id, reply)
            except Forbidden:
                await self._mark_dm(str(user.id), False)
            else:
                note = Reply(text=(tr.gettext("%(name)s, I sent you the answer in our private chat.",
                                              name=user.first_name),))
                await self._send(chat.id, note, thread=thread)
                return
        payload = f"w{chat.id}" if command == "weekly" else f"g{chat.id}"
        link = f"https://t.me/{self._bot.username}?start={payload}"
        if command == "weekly":
            text = tr.gettext("%(name)s, to get your weekly summary from me, open this link and press Start: "
                              "%(link)s", name=user.first_name, link=link)
        else:
            text = tr.gettext("%(name)s, that answer is only for you. Open this link and press Start, then run "
                              "the command again: %(link)s", name=user.first_name, link=link)
        await self._send(chat.id, Reply(text=(text,)), thread=thread)

    async def _send(self, chat_id: int | str, reply: Reply, *, thread: int | None = None) -> None:
        """One neutral reply as a message, a photo with caption or a document with caption.

        An image that follows (the score card) comes as a second message, a photo answering the
        first: a text message cannot become a photo later (editMessageMedia edits media only), and
        the text should not wait for the render. Without the image, the pending's note answers.
        """
        bot = self._bot
        common: dict[str, Any] = {"chat_id": chat_id, "parse_mode": ParseMode.HTML, "reply_markup": keyboard(reply),
                                  "message_thread_id": thread}
        if reply.later is not None:
            sent = await bot.send_message(text=html_text(reply), **common,
                                          link_preview_options=LinkPreviewOptions(is_disabled=True))
            image = await reply.later.result()
            follow = {**common, "reply_markup": None,
                      "reply_parameters": ReplyParameters(message_id=sent.message_id, allow_sending_without_reply=True)}
            if image is None:
                await bot.send_message(text=html_text(Reply(text=(reply.later.failed,))), **follow)
            else:  # captioned with the title only: the text above says the rest
                await bot.send_photo(photo=InputFile(image.data, filename=image.filename),
                                     caption=html_text(Reply(title=reply.title)), **follow)
            return
        if reply.image is not None:
            await bot.send_photo(photo=InputFile(reply.image.data, filename=reply.image.filename),
                                 caption=html_text(reply, limit=CAPTION_LIMIT), **common)
        elif reply.file is not None:
            await bot.send_document(document=InputFile(reply.file.data, filename=reply.file.filename),
                                    caption=html_text(reply, limit=CAPTION_LIMIT), **common)
        else:
            await bot.send_message(text=html_text(reply), link_preview_options=LinkPreviewOptions(is_disabled=True),
                                   **common)

    async def _dm_open(self, user: str) -> bool:
        known = self._dm.get(user)
        if known is None:
            known = self._dm[user] = await self.app.store.dm_open(UserRef(PLATFORM, user))
        return known

    async def _mark_dm(self, user: str, open: bool) -> None:
        if self._dm.get(user) is open:
            return
        await self.app.store.set_dm_open(UserRef(PLATFORM, user), open)
        self._dm[user] = open
        if len(self._dm) > 100_000:
            self._dm.clear()

    # -- delivery hooks (scheduler) ---------------------------------------------------------------
    async def post(self, community: CommunityRef, channel: str, reply: Reply, *, nonce: str | None = None) -> None:
        """Post to a group: `channel` is the chat id, a forum topic id in the community's chat, or
        "chat:topic". Telegram has no nonce; a resend after a crash may repeat a message."""
        chat_id, thread = _destination(community, channel)
        try:
            await self._send(chat_id, reply, thread=thread)
        except (Forbidden, ChatMigrated) as exc:
            raise DestinationGone(f"the bot may no longer post in {chat_id}: {exc}", code=403) from None
        except BadRequest as exc:
            if "not found" in str(exc).lower():
                raise DestinationGone(f"{chat_id} is gone: {exc}", code=400) from None
            raise DeliveryFailed(f"posting in {chat_id} failed: {exc}", code=400) from None
        except RetryAfter as exc:
            raise DeliveryFailed(f"rate limited in {chat_id}: {exc}", code=429) from None
        except TelegramError as exc:
            raise DeliveryFailed(f"posting in {chat_id} failed: {exc}") from None

    async def dm(self, user: str, reply: Reply, *, nonce: str | None = None) -> None:
        """DM a member; a 403 (blocked, never started) marks them unreachable and raises Unreachable."""
        try:
            await self._send(int(user), reply)
        except Forbidden as exc:
            await self._mark_dm(user, False)
            raise Unreachable(f"telegram user {user} does not accept messages from the bot: {exc}", code=403) from None
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                await self._mark_dm(user, False)
                raise Unreachable(f"telegram user {user} never started the bot", code=400) from None
            raise DeliveryFailed(f"sending to {user} failed: {exc}", code=400) from None
        except RetryAfter as exc:
            raise DeliveryFailed(f"rate limited sending to {user}: {exc}", code=429) from None
        except TelegramError as exc:
            raise DeliveryFailed(f"sending to {user} failed: {exc}") from None


def _destination(community: CommunityRef, channel: str | None) -> tuple[int, int | None]:
    """(chat id, topic id) of a summary channel setting."""
    text = (channel or "").strip()
    if ":" in text:
        chat, _, topic = text.rpartition(":")
        return int(chat), int(topic) if topic else None
    if not text or text == community.id or text.startswith("-"):
        return int(text or community.id), None
    return int(community.id), int(text)  # a forum topic id, as "/settings channel here" stores it


def _short(help_text: str) -> str:
    """A menu description: the help text's first sentence, within Telegram's 256 characters."""
    first = _FIRST_SENTENCE.split(help_text, maxsplit=1)[0].strip()
    return (first or help_text)[:256]
