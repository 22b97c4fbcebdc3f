"""The WebSocket: connect, reconnect with jittered exponential backoff, frames in and out.

It knows nothing of registration or tasks; the Session above it does. Frames go out through one
queue per socket, so they leave in the order they were sent [CONN-7].
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

import websockets
from websockets.exceptions import ConnectionClosed

from .codec import Frame, decode_frame, encode_frame
from .errors import AgentwireError
from .types import Backoff

SUBPROTOCOL = "agentwire.v1"
log = logging.getLogger("agentwire")
_HEADERS_ARG = "additional_headers" if int(websockets.__version__.split(".")[0]) >= 14 else "extra_headers"


class Connection:
    def __init__(
        self,
        url: str,
        token: str | None,
        backoff: Backoff,
        *,
        on_open: Callable[[], None],
        on_frame: Callable[[Frame], None],
        on_close: Callable[[], None],
    ) -> None:
        self.url, self._token, self._backoff = url, token, backoff
        self._on_open, self._on_frame, self._on_close = on_open, on_frame, on_close
        self._outbox: asyncio.Queue[bytes | int] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        #: Attempts that failed since the last registered session (the backoff's exponent).
        self.failures = 0
        self.last_failure: str | None = None

    def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="agentwire-connection")

    def send(self, frame: Frame) -> bool:
        """Queues a frame on the open socket; False when there is none."""
        if self._outbox is None:
            return False
        self._outbox.put_nowait(encode_frame(frame))
        return True

    def registered(self) -> None:
        """A session was reached: the next reconnect starts from the shortest delay."""
        self.failures = 0
        self.last_failure = None

    def drop(self, code: int = 1000) -> None:
        """Closes the open socket after the frames queued so far; a new one follows."""
        if self._outbox is not None:
            self._outbox.put_nowait(code)

    async def stop(self, code: int = 1000) -> None:
        """Closes after the frames queued so far and connects no more."""
        self._stopping.set()
        self.drop(code)
        runner = self._runner
        if runner is not None and runner is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(runner), 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                runner.cancel()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                ws = await websockets.connect(  # type: ignore[attr-defined]
                    self.url, subprotocols=[SUBPROTOCOL], max_size=None, ping_interval=None, open_timeout=10,
                    **({_HEADERS_ARG: {"Authorization": f"Bearer {self._token}"}} if self._token else {}),
                )
            except Exception as err:  # refused, DNS, bad handshake: all retried with backoff
                self.last_failure = f"{type(err).__name__}: {err}"
            else:
                await self._serve(ws)
            if not self._stopping.is_set():
                await self._pause()

    async def _serve(self, ws: Any) -> None:
        outbox: asyncio.Queue[bytes | int] = asyncio.Queue()
        self._outbox = outbox
        writer = asyncio.create_task(self._write(ws, outbox))
        if self._stopping.is_set():
            outbox.put_nowait(1000)  # stopped while this socket was opening
        try:
            self._on_open()
            async for message in ws:
                try:
                    frame = decode_frame(message)
                except AgentwireError as err:
                    log.warning("discarding a malformed frame from the broker: %s", err)  # [ENC-14]
                    continue
                try:
                    self._on_frame(frame)
                except Exception:
                    log.exception("handling a %s frame failed", frame["type"])
        except ConnectionClosed:
            pass
        finally:
            self._outbox = None
            writer.cancel()
        code, reason = getattr(ws, "close_code", None), getattr(ws, "close_reason", "") or ""
        self.last_failure = f"closed with {code} {reason}".strip()
        self._on_close()

    @staticmethod
    async def _write(ws: Any, outbox: asyncio.Queue[bytes | int]) -> None:
        try:
            while True:
                item = await outbox.get()
                if isinstance(item, int):
                    await ws.close(item)
                    return
                await ws.send(item)
        except ConnectionClosed:
            pass

    async def _pause(self) -> None:
        delay = self._backoff.delay(self.failures)
        self.failures += 1
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except asyncio.TimeoutError:
            pass
