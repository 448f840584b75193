"""A chat in the terminal, in the spirit of Hubot's shell adapter and Errbot's text backend.

Several simulated members talk in channels of one community; every message, reply, reaction and
deletion becomes an `Event` that goes through the `Ingestor` (the same path Discord and Telegram
use) and every slash command goes through `Commands.handle`. Message text stays in this process's
memory, only to show it on screen: the events carry its length and whether it has a link.

Lines (keywords are English; anything else is said by the current member):

    say TEXT            reply N TEXT        react N [EMOJI]      unreact N [EMOJI]     delete N
    as NAME             channel NAME        dm / group           lang de|en|off        press N
    members             whoami              refresh              help                  quit
    /command args…
"""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from bot.chat.commands import Commands
from bot.chat.ingest import Ingestor
from bot.chat.reply import Attachment, Button, Context, Reply
from bot.i18n import Translator, negotiate, translator
from scoring.model import CommunityRef, Event, Kind

__all__ = ["DEFAULT_COMMUNITY", "DEFAULT_MEMBERS", "ConsoleAdapter"]

DEFAULT_MEMBERS = (("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol"), ("dave", "Dave"))
DEFAULT_EMOJI = "👍"
DEFAULT_COMMUNITY = CommunityRef("console", "demo")
MAX_LISTED = 40
_LINK = re.compile(r"https?://", re.IGNORECASE)
_SLUG = re.compile(r"[\W_]+")


@dataclass(slots=True)
class _Member:
    id: str
    name: str


@dataclass(slots=True)
class _Message:
    number: int
    id: str
    author: str
    channel: str
    text: str
    deleted: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


class ConsoleAdapter:
    """A terminal chat for one community. `handle_line` runs one input line (tests drive it);
    `run` reads lines interactively until end of input or `quit`."""

    def __init__(self, commands: Commands, ingestor: Ingestor, *,
                 community: CommunityRef = DEFAULT_COMMUNITY,
                 members: Iterable[tuple[str, str]] | None = None, console: Console | None = None,
                 clock: Callable[[], datetime] = _now, admin_ids: Iterable[str] | None = None,
                 locale: str | None = None, community_name: str | None = None, channel: str = "general",
                 out_dir: Path | None = None, session: str | None = None) -> None:
        self.commands = commands
        self.ingestor = ingestor
        self.community = community
        self.console = console or Console()
        self.clock = clock
        self.locale = locale
        self.community_name = community_name
        self.channel = channel
        self.in_dm = False
        self.closed = False
        self.out_dir = out_dir
        self.saved: list[Path] = []     # images and files written for replies, in order
        self.last_reply: Reply | None = None
        self._members: dict[str, _Member] = {}
        for member_id, name in members if members is not None else DEFAULT_MEMBERS:
            self._members[str(member_id)] = _Member(str(member_id), name or str(member_id))
        if not self._members:
            self._members["alice"] = _Member("alice", "Alice")
        self.current = next(iter(self._members.values()))
        self.admin_ids = set(admin_ids) if admin_ids is not None else {self.current.id}
        # Message ids must not collide with an earlier session on the same database.
        self._session = session or secrets.token_hex(4)
        self._messages: dict[int, _Message] = {}
        self._buttons: tuple[Button, ...] = ()

    @classmethod
    async def for_community(cls, commands: Commands, ingestor: Ingestor, community: CommunityRef,
                            **options: object) -> ConsoleAdapter:
        """An adapter whose members are the community's known members (e.g. after an import)."""
        names = await commands.store.member_names(community)
        members = sorted(names.items(), key=lambda item: (item[1].casefold(), item[0]))
        return cls(commands, ingestor, community=community, members=members or None, **options)  # type: ignore[arg-type]

    # -- input ------------------------------------------------------------------------------------
    async def run(self, input_stream: TextIO | None = None) -> None:
        """Read and handle lines until end of input (Ctrl-D), `quit` or `/quit`.

        Lines are read in a daemon thread, one per request, so the event loop keeps running
        (scores refresh, other adapters work) and an interrupted read never blocks shutdown.
        """
        loop = asyncio.get_running_loop()
        interactive = input_stream is None and sys.stdin.isatty()
        stream = input_stream or sys.stdin
        requests: queue.SimpleQueue[tuple[str, asyncio.Future[str | None]] | None] = queue.SimpleQueue()

        def deliver(future: asyncio.Future[str | None], line: str | None) -> None:
            if not future.done():
                future.set_result(line)

        def reader() -> None:
            while (request := requests.get()) is not None:
                prompt, future = request
                try:
                    line: str | None = input(prompt) if interactive else stream.readline()
                    if line == "" and not interactive:
                        line = None  # end of the stream
                except (EOFError, OSError, ValueError):
                    line = None
                try:
                    loop.call_soon_threadsafe(deliver, future, line)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    return

        threading.Thread(target=reader, name="clout-console-input", daemon=True).start()
        tr = await self._tr()
        if interactive:
            self.console.print(Text(tr.gettext("Clout console. Type help for the console commands, "
                                               "/help for the bot's, quit to leave."), style="dim"))
        try:
            while not self.closed:
                future: asyncio.Future[str | None] = loop.create_future()
                requests.put((self._prompt(), future))
                line = await future
                if line is None:
                    break
                await self.handle_line(line.rstrip("\r\n"))
        finally:
            requests.put(None)

    def _prompt(self) -> str:
        where = "dm" if self.in_dm else self.channel
        return f"{self.current.name}@{where}> "

    async def handle_line(self, line: str) -> None:
        """Run one input line: a console keyword, a slash command, or something the member says."""
        line = line.strip()
        if not line:
            return
        if line.startswith("/"):
            if line.split()[0].lower() in ("/quit", "/exit"):
                self.closed = True
                return
            await self._command(line)
            return
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        handler = self._keywords().get(word.lower())
        if handler is None:
            await self._say(line)
        else:
            await handler(rest)

    def _keywords(self) -> dict[str, Callable[[str], object]]:
        return {
            "say": self._say, "reply": self._reply, "react": self._react, "unreact": self._unreact,
            "delete": self._delete, "as": self._as, "channel": self._channel, "dm": self._dm,
            "group": self._group, "lang": self._lang, "members": self._list_members, "whoami": self._whoami,
            "press": self._press, "refresh": self._refresh, "help": self._help, "quit": self._quit,
            "exit": self._quit,
        }

    # -- chat events ------------------------------------------------------------------------------
    async def _say(self, text: str, reply_to: _Message | None = None) -> None:
        tr = await self._tr()
        if not text:
            return self._note(tr.gettext("Say what? Example: say hello @Bob"))
        if self.in_dm:
            return self._note(tr.gettext("This is your private chat with Clout: only commands work here. "
                                         "Type group to go back."))
        number = len(self._messages) + 1
        message = _Message(number, f"{self._session}-{number}", self.current.id, self.channel, text)
        self._messages[number] = message
        event = Event(kind=Kind.MESSAGE, community=self.community, ts=self.clock(), message_id=message.id,
                      actor=self.current.id, actor_name=self.current.name, channel=self.channel,
                      community_name=self.community_name, reply_to=reply_to.id if reply_to else None,
                      reply_to_author=reply_to.author if reply_to else None, mentions=self._mentions(text),
                      length=len(text), has_link=bool(_LINK.search(text)))
        counted = await self.ingestor.event(event)
        line = Text(f"#{number} ", style="bold")
        line.append(self.current.name, style="bold green")
        if reply_to is not None:
            line.append(f" ↩ #{reply_to.number}", style="dim")
        line.append(f": {text}")
        self._print_event(line, counted, tr)

    async def _reply(self, rest: str) -> None:
        tr = await self._tr()
        number, _, text = rest.partition(" ")
        target = self._message(number)
        if target is None or not text.strip():
            return self._note(tr.gettext("Usage: reply N TEXT, where N is a message number."))
        await self._say(text.strip(), reply_to=target)

    async def _react(self, rest: str, kind: Kind = Kind.REACTION_ADD) -> None:
        tr = await self._tr()
        number, _, emoji = rest.partition(" ")
        target = self._message(number)
        if target is None or self.in_dm:
            return self._note(tr.gettext("Usage: react N [EMOJI] or unreact N [EMOJI], where N is a message number."))
        emoji = emoji.strip() or DEFAULT_EMOJI
        event = Event(kind=kind, community=self.community, ts=self.clock(), message_id=target.id,
                      actor=self.current.id, actor_name=self.current.name, channel=target.channel,
                      emoji=emoji, target_author=target.author)
        counted = await self.ingestor.event(event)
        if kind is Kind.REACTION_ADD:
            text = tr.gettext("%(name)s reacted %(emoji)s to #%(number)s",
                              name=self.current.name, emoji=emoji, number=target.number)
        else:
            text = tr.gettext("%(name)s removed %(emoji)s from #%(number)s",
                              name=self.current.name, emoji=emoji, number=target.number)
        self._print_event(Text(text, style="italic"), counted, tr)

    async def _unreact(self, rest: str) -> None:
        await self._react(rest, Kind.REACTION_REMOVE)

    async def _delete(self, rest: str) -> None:
        tr = await self._tr()
        target = self._message(rest)
        if target is None or target.deleted or self.in_dm:
            return self._note(tr.gettext("Usage: delete N, where N is a message number."))
        target.deleted = True
        event = Event(kind=Kind.MESSAGE_DELETE, community=self.community, ts=self.clock(),
                      message_id=target.id, actor=self.current.id, channel=target.channel)
        counted = await self.ingestor.event(event)
        self._print_event(Text(tr.gettext("#%(number)s was deleted", number=target.number), style="italic"),
                          counted, tr)

    def _print_event(self, line: Text, counted: bool, tr: Translator) -> None:
        if not counted:
            line.append("  " + tr.gettext("(not counted)"), style="dim")
        self.console.print(line)

    def _message(self, number: str) -> _Message | None:
        text = number.strip().removeprefix("#")
        if not text.isdigit():
            return None
        message = self._messages.get(int(text))
        return None if message is None or message.deleted else message

    def _mentions(self, text: str) -> tuple[str, ...]:
        """Ids of the members named as @Name (longest name first, so "@Ann Lee" beats "@Ann")."""
        found: list[str] = []
        folded = text.casefold()
        candidates = sorted(self._members.values(), key=lambda m: -len(m.name))
        for at in (i for i, c in enumerate(text) if c == "@"):
            rest = folded[at + 1:]
            for member in candidates:
                for key in (member.name.casefold(), member.id.casefold()):
                    end = len(key)
                    if key and rest.startswith(key) and (end == len(rest) or not rest[end].isalnum()):
                        if member.id not in found:
                            found.append(member.id)
                        break
                else:
                    continue
                break
        return tuple(found)

    # -- commands ---------------------------------------------------------------------------------
    def _context(self) -> Context:
        return Context(platform=self.community.platform, user=self.current.id, now=self.clock(),
                       community=None if self.in_dm else self.community,
                       channel=None if self.in_dm else self.channel, name=self.current.name,
                       locale=self.locale, is_admin=self.current.id in self.admin_ids)

    async def _command(self, line: str) -> None:
        reply = await self.commands.handle(self._context(), line)
        await self._render(reply)

    async def _press(self, rest: str) -> None:
        tr = await self._tr()
        text = rest.strip()
        if not text.isdigit() or not 1 <= int(text) <= len(self._buttons):
            return self._note(tr.gettext("There is no button %(number)s.", number=text or "?"))
        await self._command("/" + self._buttons[int(text) - 1].command)

    async def _render(self, reply: Reply) -> None:
        tr = await self._tr()
        self.last_reply = reply
        self._buttons = reply.buttons
        head = Text("Clout", style="bold red" if reply.error else "bold cyan")
        if reply.private:
            head.append(" " + tr.gettext("(only you can see this)"), style="dim")
        if reply.title:
            head.append(" · ")
            head.append(reply.title, style="bold")
        self.console.print(head)
        for block in reply.text:
            self.console.print(Text(block, style="red" if reply.error else ""))
        if reply.table is not None:
            table = RichTable(*reply.table.columns, show_edge=False, header_style="bold")
            for row in reply.table.rows:
                table.add_row(*(Text(cell) for cell in row))
            self.console.print(table)
        if reply.image is not None:
            self._save_image(reply.image, tr)
        if reply.file is not None:
            path = self._save(reply.file.filename, reply.file.data)
            self._note(tr.gettext("File saved to %(path)s", path=str(path)))
        if reply.buttons:
            line = Text()
            for i, button in enumerate(reply.buttons, 1):
                line.append(f"[{i}] {button.label}  ", style="bold")
            line.append(tr.gettext("(type press N)"), style="dim")
            self.console.print(line)
        if reply.later is not None:  # the text is on screen; the card follows when it is made
            image = await reply.later.result()
            if image is None:
                self._note(reply.later.failed)
            else:
                self.last_reply = dataclasses.replace(reply, image=image, later=None)
                self._save_image(image, tr)

    def _save_image(self, image: Attachment, tr: Translator) -> None:
        path = self._save(image.filename, image.data)
        self._note(tr.gettext("Image saved to %(path)s", path=str(path)))

    def _save(self, filename: str, data: bytes) -> Path:
        if self.out_dir is None:
            self.out_dir = Path(tempfile.mkdtemp(prefix="clout-console-"))
        stem, dot, suffix = filename.rpartition(".")
        path = self.out_dir / f"{stem or suffix}-{len(self.saved) + 1}{dot}{suffix if stem else ''}"
        path.write_bytes(data)
        self.saved.append(path)
        return path

    # -- delivery (bot.chat.delivery.Deliverer): the scheduler's summaries, shown on screen -----------
    @property
    def platform(self) -> str:
        return self.community.platform

    async def start(self) -> None:
        """Nothing to connect: the console is there as soon as it is built."""

    async def stop(self) -> None:
        self.closed = True

    async def post(self, community: CommunityRef, channel: str, reply: Reply, *, nonce: str | None = None) -> None:
        """Show a reply the bot posts to a channel (a weekly digest) on the console."""
        tr = await self._tr()
        self.console.print(Text(tr.gettext("Clout posted in #%(channel)s:", channel=channel), style="bold magenta"))
        await self._render(reply)

    async def dm(self, user: str, reply: Reply, *, nonce: str | None = None) -> None:
        """Show a private message the bot sends to a member (a personal summary) on the console."""
        tr = await self._tr()
        member = self._members.get(user)
        self.console.print(Text(tr.gettext("Clout sent a private message to %(name)s:",
                                           name=member.name if member else user), style="bold magenta"))
        await self._render(reply)

    # -- console keywords -------------------------------------------------------------------------
    async def _as(self, name: str) -> None:
        tr = await self._tr()
        name = name.strip().removeprefix("@")
        if not name:
            return self._note(tr.gettext("Usage: as NAME (a new name adds a member)."))
        member = self._find(name)
        if member is None:
            member = _Member(self._new_id(name), name)
            self._members[member.id] = member
            self._note(tr.gettext("%(name)s joined the chat.", name=name))
        self.current = member
        self._note(tr.gettext("You are now %(name)s.", name=member.name))

    def _find(self, name: str) -> _Member | None:
        if name in self._members:
            return self._members[name]
        key = name.casefold()
        return next((m for m in self._members.values() if m.name.casefold() == key), None)

    def _new_id(self, name: str) -> str:
        base = _SLUG.sub("-", name.casefold()).strip("-") or "member"
        candidate, i = base, 2
        while candidate in self._members:
            candidate, i = f"{base}-{i}", i + 1
        return candidate

    async def _channel(self, name: str) -> None:
        tr = await self._tr()
        name = name.strip().removeprefix("#")
        if name:
            if not re.fullmatch(r"[\w.\-]{1,64}", name):
                return self._note(tr.gettext("Usage: channel NAME (letters, digits, - and _)."))
            self.channel = name
            self.in_dm = False
        self._note(tr.gettext("You are in #%(channel)s.", channel=self.channel))

    async def _dm(self, _: str) -> None:
        self.in_dm = True
        self._note((await self._tr()).gettext("Private chat with Clout: commands here are not in the community. "
                                              "Type group to go back."))

    async def _group(self, _: str) -> None:
        self.in_dm = False
        self._note((await self._tr()).gettext("You are in #%(channel)s.", channel=self.channel))

    async def _lang(self, code: str) -> None:
        code = code.strip()
        self.locale = None if code.lower() in ("", "off", "none") else code
        tr = await self._tr()
        self._note(tr.gettext("Your app language is now %(language)s.", language=self.locale or "—"))

    async def _list_members(self, _: str) -> None:
        tr = await self._tr()
        members = list(self._members.values())
        table = RichTable(tr.gettext("Member"), tr.gettext("Id"), "", show_edge=False, header_style="bold")
        for member in members[:MAX_LISTED]:
            marks = []
            if member.id == self.current.id:
                marks.append(tr.gettext("you"))
            if member.id in self.admin_ids:
                marks.append(tr.gettext("admin"))
            table.add_row(Text(member.name), Text(member.id), Text(", ".join(marks)))
        self.console.print(table)
        if len(members) > MAX_LISTED:
            self._note(tr.gettext("… and %(n)s more.", n=tr.number(len(members) - MAX_LISTED)))

    async def _whoami(self, _: str) -> None:
        tr = await self._tr()
        if self.in_dm:
            where = tr.gettext("the private chat with Clout")
        else:
            where = tr.gettext("#%(channel)s of %(community)s", channel=self.channel,
                               community=self.community_name or self.community.key)
        role = tr.gettext("admin") if self.current.id in self.admin_ids else tr.gettext("member")
        self._note(tr.gettext("You are %(name)s (%(id)s, %(role)s) in %(where)s.", name=self.current.name,
                              id=self.current.id, role=role, where=where))

    async def _refresh(self, _: str) -> None:
        await self.commands.store.flush()
        await self.commands.service.refresh(self.community, as_of=self.clock())
        self._note((await self._tr()).gettext("Scores recomputed."))

    async def _help(self, _: str) -> None:
        tr = await self._tr()
        rows = (
            ("say TEXT", tr.gettext("post a message (any line that is not a keyword is said); @Name mentions")),
            ("reply N TEXT", tr.gettext("reply to message number N")),
            ("react N [EMOJI]", tr.gettext("react to message N; unreact N [EMOJI] takes it back")),
            ("delete N", tr.gettext("delete message N")),
            ("as NAME", tr.gettext("speak as another member (a new name adds one)")),
            ("channel NAME", tr.gettext("switch channel")),
            ("dm / group", tr.gettext("switch to the private chat with Clout and back")),
            ("lang de|en|off", tr.gettext("set your app language")),
            ("members / whoami", tr.gettext("who is here / who you are")),
            ("press N", tr.gettext("press button N of the last reply")),
            ("refresh", tr.gettext("recompute the scores now")),
            ("/help", tr.gettext("the bot's commands")),
            ("quit", tr.gettext("leave (or Ctrl-D)")),
        )
        table = RichTable(show_header=False, show_edge=False, box=None)
        for keyword, text in rows:
            table.add_row(Text(keyword, style="bold"), Text(text))
        self.console.print(table)

    async def _quit(self, _: str) -> None:
        self.closed = True

    # -- helpers ----------------------------------------------------------------------------------
    async def _tr(self) -> Translator:
        settings = await self.commands.store.community_settings(self.community)
        return translator(negotiate(self.locale, settings.language))

    def _note(self, text: str) -> None:
        self.console.print(Text(text, style="dim"))
