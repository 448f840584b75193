"""A loopback fake of Discord: the REST routes Clout uses and a gateway websocket, in one aiohttp app.

The real discord.py client talks to it (tests patch `discord.http.Route.BASE` and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`). The gateway sends HELLO, acks heartbeats,
answers IDENTIFY with READY + GUILD_CREATE (per shard: guild → shard is `(id >> 22) % count`) and
RESUME with RESUMED. Tests push dispatch events with `push`, put messages into channel history with
`add_history`, and read what the bot sent from `calls` (every REST call) and the `sent`/`responses`
helpers. Errors are injected per channel (`fail_channels`) and per DM recipient (`closed_dms`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

BOT_ID = 900_000_000_000_000_001
APP_ID = 900_000_000_000_000_002
OWNER_ID = 900_000_000_000_000_003
EVERYONE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16)  # view, send, embed, attach, history
JOINED = "2026-01-01T00:00:00+00:00"
DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake(when: datetime, seq: int = 0) -> int:
    """A snowflake for a time (what Discord would give a message created then)."""
    return (int(when.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22 | (seq & 0x3FFFFF)


def user(uid: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {"id": str(uid), "username": name.lower(), "discriminator": "0", "avatar": None,
            "global_name": name, "bot": bot, "public_flags": 0}


def member(u: dict[str, Any], *, permissions: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"user": u, "roles": [], "joined_at": JOINED, "deaf": False, "mute": False,
                            "flags": 0, "nick": None}
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


@dataclass
class Channel:
    id: int
    name: str
    type: int = 0          # 0 text, 11 public thread, 15 forum
    parent_id: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # message payloads, any order

    def last_message_id(self) -> str | None:
        """What GUILD_CREATE reports as the channel's newest message."""
        return max((m["id"] for m in self.history), key=int, default=None)


@dataclass
class Guild:
    id: int
    name: str
    channels: list[Channel] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        bot = member(user(BOT_ID, "Clout", bot=True))
        regular = [c for c in self.channels if c.type not in (11, 12)]
        threads = [c for c in self.channels if c.type in (11, 12)]
        return {
            "id": str(self.id), "name": self.name, "icon": None, "owner_id": str(OWNER_ID),
            "roles": [{"id": str(self.id), "name": "@everyone", "permissions": str(EVERYONE_PERMISSIONS),
                       "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False,
                       "flags": 0}],
            "emojis": [], "stickers": [], "features": [], "member_count": 1, "members": [bot],
            "channels": [{"id": str(c.id), "type": c.type, "name": c.name, "position": i,
                          "permission_overwrites": [], "parent_id": str(c.parent_id) if c.parent_id else None,
                          "nsfw": False, "topic": None, "last_message_id": c.last_message_id(),
                          "rate_limit_per_user": 0}
                         for i, c in enumerate(regular)],
            "threads": [{"id": str(t.id), "type": t.type, "name": t.name, "guild_id": str(self.id),
                         "last_message_id": t.last_message_id(),
                         "parent_id": str(t.parent_id), "owner_id": str(OWNER_ID), "message_count": 0,
                         "member_count": 1, "rate_limit_per_user": 0,
                         "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                             "archive_timestamp": JOINED, "locked": False}}
                        for t in threads],
            "voice_states": [], "presences": [], "large": False, "unavailable": False,
            "preferred_locale": "en-US", "system_channel_id": None, "mfa_level": 0, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "afk_timeout": 300,
            "premium_tier": 0, "nsfw_level": 0, "joined_at": JOINED, "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        }


@dataclass
class Call:
    method: str
    path: str
    json: Any
    files: dict[str, bytes] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


class FakeDiscord:
    """The fake server. `await start()`, then point discord.py at `api_base` and `gateway_url`."""

    def __init__(self, guilds: list[Guild] | None = None, *, shards: int = 1) -> None:
        self.guilds = guilds or []
        self.recommended_shards = shards
        self.calls: list[Call] = []
        self.fail_channels: dict[int, tuple[int, int]] = {}   # channel id -> (HTTP status, Discord code)
        self.closed_dms: set[int] = set()                      # users whose DMs are closed (50007)
        self.close_on_identify: int | None = None              # e.g. 4014
        self.unauthorized = False                              # answer every REST call with 401
        self.identified: list[tuple[int, int]] = []            # (shard id, shard count) per IDENTIFY
        self.identify_intents: list[int] = []
        self.sockets: dict[int, web.WebSocketResponse] = {}    # shard id -> live socket
        self._shard_counts: dict[int, int] = {}
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._dm_channels: dict[int, int] = {}                 # dm channel id -> recipient
        self.response_messages: dict[str, str] = {}            # interaction id -> id of the message it created
        self._call_waiters: list[tuple[Callable[[Call], bool], asyncio.Future[Call]]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.extra_routes: list[tuple[str, str, Any]] = []     # (method, path, handler), e.g. a benchmark's

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/gateway", self._gateway)
        app.router.add_route("GET", "/gateway/", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        for method, path, handler in self.extra_routes:
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for ws in list(self.sockets.values()):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway/"

    def next_id(self) -> int:
        return snowflake(datetime.now(UTC), next(self._ids))

    # -- test helpers -----------------------------------------------------------------------------
    def shard_of(self, guild_id: int, count: int | None = None) -> int:
        count = count or max(self._shard_counts.values(), default=1)
        return (guild_id >> 22) % count

    async def push(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch event on the shard that owns its guild (or on every shard without one)."""
        guild = data.get("guild_id")
        targets = list(self.sockets.items())
        if guild is not None:
            targets = [(sid, ws) for sid, ws in targets if (int(guild) >> 22) % self._shard_counts[sid] == sid]
        if not targets:
            raise AssertionError(f"no connected shard for {event} in guild {guild}")
        for _sid, ws in targets:
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def drop_connection(self, shard_id: int = 0) -> None:
        """Close a shard's socket with a resumable code (the client reconnects and resumes)."""
        ws = self.sockets.pop(shard_id)
        await ws.close(code=4000, message=b"unknown error")

    def wait_call(self, predicate: Callable[[Call], bool]) -> asyncio.Future[Call]:
        """A future resolved by the first REST call (already made or coming) that matches."""
        future: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        for call in self.calls:
            if predicate(call):
                future.set_result(call)
                return future
        self._call_waiters.append((predicate, future))
        return future

    def responses(self) -> list[Call]:
        return [c for c in self.calls if c.path.endswith("/callback")]

    def channel(self, channel_id: int) -> Channel:
        for g in self.guilds:
            for c in g.channels:
                if c.id == channel_id:
                    return c
        raise KeyError(channel_id)

    # -- gateway ----------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        shard_id = 0
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45_000}, "s": None, "t": None}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            payload = json.loads(msg.data)
            op = payload["op"]
            if op == 1:
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                d = payload["d"]
                shard_id, count = d.get("shard", [0, 1])
                self.identified.append((shard_id, count))
                self.identify_intents.append(d.get("intents", 0))
                if self.close_on_identify is not None:
                    await ws.close(code=self.close_on_identify, message=b"Disallowed intent(s).")
                    break
                self.sockets[shard_id] = ws
                self._shard_counts[shard_id] = count
                await self._ready(ws, shard_id, count)
            elif op == 6:
                shard_id = next((sid for sid, s in self.sockets.items() if s is ws), 0)
                self.sockets[shard_id] = ws
                self._shard_counts.setdefault(shard_id, 1)
                await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": next(self._seq), "d": {}}))
        if self.sockets.get(shard_id) is ws:
            del self.sockets[shard_id]
        return ws

    async def _ready(self, ws: web.WebSocketResponse, shard_id: int, count: int) -> None:
        mine = [g for g in self.guilds if (g.id >> 22) % count == shard_id]
        ready = {"v": 10, "user": user(BOT_ID, "Clout", bot=True), "guilds": [{"id": str(g.id), "unavailable": True}
                                                                          for g in mine],
                 "session_id": f"session-{shard_id}", "resume_gateway_url": self.gateway_url,
                 "shard": [shard_id, count], "application": {"id": str(APP_ID), "flags": 0},
                 "private_channels": [], "relationships": [], "presences": []}
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))
        for g in mine:
            await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": g.payload()}))

    # -- REST -------------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files[part.filename or part.name or "file"] = await part.read()
        call = Call(request.method, path, body, files, dict(request.query))
        self.calls.append(call)
        try:
            return self._route(request, call)
        finally:
            for waiter in list(self._call_waiters):
                predicate, future = waiter
                if predicate(call) and not future.done():
                    future.set_result(call)
                    self._call_waiters.remove(waiter)

    def _route(self, request: web.Request, call: Call) -> web.Response:
        method, path, parts = call.method, call.path, call.path.strip("/").split("/")
        if self.unauthorized:
            return _error(401, 0, "401: Unauthorized")
        if path == "/users/@me":
            return _json(user(BOT_ID, "Clout", bot=True))
        if path == "/oauth2/applications/@me":
            return _json({"id": str(APP_ID), "name": "Clout", "icon": None, "description": "", "bot_public": True,
                          "bot_require_code_grant": False, "owner": user(OWNER_ID, "Owner"), "verify_key": "0" * 64,
                          "flags": 0, "summary": "", "rpc_origins": []})
        if path in ("/gateway/bot", "/gateway"):
            return _json({"url": self.gateway_url, "shards": self.recommended_shards,
                          "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                                  "max_concurrency": 1}})
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            return _json([{"description": "", **c, "id": str(self.next_id()), "application_id": str(APP_ID), "version": "1",
                           "guild_id": parts[3] if len(parts) > 4 else None} for c in call.json])
        if parts[0] == "channels" and len(parts) == 3 and parts[2] == "messages":
            channel_id = int(parts[1])
            failure = self.fail_channels.get(channel_id)
            if failure is not None:
                return _error(*failure)
            if method == "GET":
                return self._history(channel_id, request)
            recipient = self._dm_channels.get(channel_id)
            if recipient is not None and recipient in self.closed_dms:
                return _error(403, 50007, "Cannot send messages to this user")
            return _json(self._message(channel_id, call.json or {}))
        if path == "/users/@me/channels" and method == "POST":
            recipient = int(call.json["recipient_id"])
            channel_id = self.next_id()
            self._dm_channels[channel_id] = recipient
            return _json({"id": str(channel_id), "type": 1, "recipients": [user(recipient, f"user{recipient}")],
                          "last_message_id": None})
        if parts[0] == "interactions" and parts[-1] == "callback":
            ephemeral = bool(((call.json or {}).get("data") or {}).get("flags", 0) & 64)
            message_id = self.response_messages.setdefault(parts[1], str(self.next_id()))
            return _json({"interaction": {"id": parts[1], "type": 2, "response_message_id": message_id,
                                          "response_message_loading": False,
                                          "response_message_ephemeral": ephemeral}})
        if parts[0] == "webhooks":
            if method == "DELETE":
                return web.Response(status=204)
            channel = 0
            return _json(self._message(channel, call.json or {}))
        return _error(404, 0, f"no route {method} {path}")

    def _message(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(self.next_id()), "channel_id": str(channel_id), "author": user(BOT_ID, "Clout", bot=True),
                "content": body.get("content") or "", "timestamp": datetime.now(UTC).isoformat(),
                "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
                "mention_roles": [], "attachments": [], "embeds": body.get("embeds") or [], "pinned": False,
                "type": 0, "flags": body.get("flags", 0), "components": [], "nonce": body.get("nonce")}

    def _history(self, channel_id: int, request: web.Request) -> web.Response:
        channel = self.channel(channel_id)
        limit = int(request.query.get("limit", 50))
        after = int(request.query.get("after", 0))
        newer = sorted((m for m in channel.history if int(m["id"]) > after), key=lambda m: int(m["id"]))
        # Discord answers `after` with the oldest `limit` messages after it, newest first.
        return _json(list(reversed(newer[:limit])))


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json.
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _error(status: int, code: int, message: str = "error") -> web.Response:
    return _json({"code": code, "message": message}, status)
