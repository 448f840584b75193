"""A loopback fake of the Telegram Bot API (aiohttp): just enough for a real PTB Application to poll and send.

PTB posts form-encoded parameters (multipart when a file is attached); JSON-valued ones such as
`allowed_updates`, `reply_markup` or `commands` arrive as JSON strings. Every call is recorded with
its parameters and a monotonic timestamp; tests push updates with `push` and await calls with
`wait_for`. Errors can be queued per method (`fail`) to exercise 403s and 429s.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from telegram.request import BaseRequest, RequestData

BOT_ID = 999
BOT_USERNAME = "CloutTestBot"
TOKEN = "123456:TEST-TOKEN"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    files: dict[str, bytes] = field(default_factory=dict)
    result: Any = None  # what the fake answered (a sent message: its message_id)

    def json(self, name: str) -> Any:
        return json.loads(self.params[name])


def _admin(user: dict[str, Any]) -> dict[str, Any]:
    flags = ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
             "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
             "can_post_stories", "can_edit_stories", "can_delete_stories")
    return {"status": "administrator", "user": user, **{f: f != "is_anonymous" for f in flags}}


class FakeBotApi:
    """Run with `async with FakeBotApi() as api:`; `api.base_url` goes to ApplicationBuilder.base_url."""

    def __init__(self, *, can_read_all: bool = True, poll_cap: float = 0.1, port: int = 0) -> None:
        self.can_read_all = can_read_all
        self.poll_cap = poll_cap  # seconds a getUpdates long poll waits at most (keeps stop() quick)
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.statuses: dict[tuple[int, int], str] = {}  # (chat, user) -> status; default "member"
        self.failures: dict[str, list[tuple[int, str, dict[str, Any] | None]]] = {}
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(10_000)
        self._runner: web.AppRunner | None = None
        self.port = port

    # -- control ----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def push(self, *updates: dict[str, Any]) -> list[int]:
        """Queue updates (update_id is assigned); returns their ids."""
        ids = []
        async with self._changed:
            for update in updates:
                update_id = next(self._ids)
                self.updates.append({"update_id": update_id, **update})
                ids.append(update_id)
            self._changed.notify_all()
        return ids

    def fail(self, method: str, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        """Make the next call of `method` fail with this error."""
        self.failures.setdefault(method, []).append((code, description, parameters))

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until `method` was called `count` times (in total); returns those calls."""
        async def ready() -> list[Call]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.of(method)) >= count)
            return self.of(method)
        return await asyncio.wait_for(ready(), timeout)

    async def wait_consumed(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until the poller confirmed `update_id` (asked for a later offset)."""
        async def ready() -> None:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: any(int(c.params.get("offset", 0)) > update_id for c in self.of("getUpdates")))
        await asyncio.wait_for(ready(), timeout)

    # -- server -----------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeBotApi:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/bot{token}/{method}", self._handle)
        # Control routes for a fake running in another process (the benchmark).
        app.router.add_post("/control/push", self._control_push)
        app.router.add_get("/control/consumed/{update_id}", self._control_consumed)
        app.router.add_get("/control/calls/{method}", self._control_calls)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _control_push(self, request: web.Request) -> web.Response:
        return web.json_response(await self.push(*await request.json()))

    async def _control_consumed(self, request: web.Request) -> web.Response:
        await self.wait_consumed(int(request.match_info["update_id"]), timeout=600)
        return web.json_response(True)

    async def _control_calls(self, request: web.Request) -> web.Response:
        return web.json_response([{"at": c.at, "params": c.params} for c in self.of(request.match_info["method"])])

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/") or request.content_type.endswith("urlencoded"):
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                else:
                    params[key] = value
        elif request.can_read_body:
            params = await request.json()
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        async with self._changed:
            status, body = self.respond(method, params, files)
            self._changed.notify_all()
        return web.json_response(body, status=status)

    def respond(self, method: str, params: dict[str, Any], files: dict[str, bytes] | None = None
                ) -> tuple[int, dict[str, Any]]:
        """Record a call and answer it (status, body): a queued failure, else the method's result."""
        call = Call(method, params, time.monotonic(), files or {})
        self.calls.append(call)
        queued = self.failures.get(method)
        if queued:
            code, description, parameters = queued.pop(0)
            body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
            if parameters:
                body["parameters"] = parameters
            return code, body
        handler = getattr(self, "_" + method, None)
        call.result = handler(params) if handler is not None else True
        return 200, {"ok": True, "result": call.result}

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), self.poll_cap)
        limit = int(params.get("limit") or 100)

        def pending() -> list[dict[str, Any]]:
            return [u for u in self.updates if u["update_id"] >= offset][:limit]

        async with self._changed:
            self.calls.append(Call("getUpdates", params, time.monotonic()))
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones go
            self._changed.notify_all()
            if not pending() and timeout > 0:
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(pending())), timeout)
                except TimeoutError:
                    pass
            return pending()

    # -- methods ----------------------------------------------------------------------------------
    def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Clout", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": self.can_read_all,
                "supports_inline_queries": False}

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        chat = ({"id": chat_id, "type": "supergroup", "title": "Group"} if chat_id < 0
                else {"id": chat_id, "type": "private", "first_name": "Member"})
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Clout", "username": BOT_USERNAME}, **content}

    def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, text=params.get("text", ""))

    def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 1, "height": 1}])

    def _sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, document={"file_id": "d1", "file_unique_id": "u2"})

    def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, text=params.get("text", ""))

    def _getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, user_id = int(params["chat_id"]), int(params["user_id"])
        user = {"id": user_id, "is_bot": user_id == BOT_ID, "first_name": "U"}
        status = self.statuses.get((chat, user_id), "member")
        if status == "administrator":
            return _admin(user)
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        return {"status": status, "user": user}


class RecordingRequest(BaseRequest):
    """A PTB request class answering every call from a FakeBotApi's handlers, without sockets
    (for `Application.process_update` tests; PTB's own suite does the same)."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request_data is not None:
            for key, value in request_data.json_parameters.items():
                params[key] = value
            for key, (_name, data, _mime) in (request_data.multipart_data or {}).items():
                if isinstance(data, bytes):
                    files[key] = data
        if name == "getUpdates":
            return 200, json.dumps({"ok": True, "result": []}).encode()
        status, body = self.api.respond(name, params, files)
        return status, json.dumps(body).encode()


def serve(port: int) -> None:
    """Run a fake on `port` until killed (the benchmark starts this in a child process)."""
    import asyncio as _asyncio

    async def main() -> None:
        async with FakeBotApi(port=port, poll_cap=0.2):
            await _asyncio.Event().wait()

    _asyncio.run(main())
