"""Agent pools, the supervisor's side [POOL-*]: members as child processes in any language.

``Pool`` declares the pool to the broker (``pool`` frame), keeps between ``min`` and ``max`` members
running, restarts members that die (exponential backoff with a cap, reset once a member stayed up),
and obeys the broker's autoscaler (``scale``): on scale-up it starts members; on scale-down the broker
has already drained the members it names, which finish their tasks and exit, and any still running
after ``grace`` seconds gets SIGTERM, then SIGKILL after ``kill_grace``. Each member finds its broker,
pool and agent id in AGENTWIRE_URL, AGENTWIRE_POOL and AGENTWIRE_INSTANCE_ID::

    async with Pool(url, name="upper", min=2, max=10, capabilities=["text.upper"],
                    command=[sys.executable, "agent.py"]) as pool:
        await pool.wait_closed()
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .client import Client, connect
from .codec import Frame
from .errors import InvalidPoolOptionsError
from .types import Backoff

log = logging.getLogger("agentwire")

_ID = re.compile(r"^[\x21-\x7e]{1,256}$")
_AUTOSCALE_KEYS = frozenset({"up_threshold", "down_threshold", "step", "interval_ms", "window_ms", "stabilization_ms", "cooldown_ms"})


@dataclass(frozen=True)
class Restart:
    """Restarts of members that died: ``initial × 2^(n-1)`` seconds before the n-th in a row, at most ``maximum``."""

    initial: float = 0.1
    maximum: float = 30.0
    #: A member that stayed up this long (seconds) resets the count.
    reset_after: float = 10.0


@dataclass(frozen=True)
class PoolEvent:
    """What the pool reports on ``events``: declared, scale, started, draining, exited, closed."""

    type: str
    id: str | None = None
    #: exited: whether it left on purpose (exit code 0 or drained), and what ended it.
    clean: bool | None = None
    left: bool | None = None
    detail: str | None = None
    restart_in: float | None = None
    #: scale: the broker's frame.
    frame: Frame | None = None


@dataclass
class Member:
    id: str
    index: int
    process: asyncio.subprocess.Process
    started_at: float
    crashes: int
    state: str = "running"  # running | draining
    exited: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Pool:
    def __init__(
        self,
        url: str,
        *,
        name: str,
        command: Sequence[str],
        capabilities: Sequence[str],
        min: int,  # noqa: A002 - the protocol's word
        max: int,  # noqa: A002
        autoscale: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        grace: float = 30.0,
        kill_grace: float = 5.0,
        restart: Restart = Restart(),
        token: str | None = None,
        backoff: Backoff | None = None,
        quiet: bool = False,
    ) -> None:
        problems = []
        if not isinstance(name, str) or not _ID.match(name):
            problems.append(f"name {name!r} is not an id (1-256 printable ASCII characters, no spaces)")
        if not isinstance(min, int) or isinstance(min, bool) or min < 0:
            problems.append(f"min {min!r} is not an integer >= 0")
        if not isinstance(max, int) or isinstance(max, bool) or max < 1:
            problems.append(f"max {max!r} is not an integer >= 1")
        elif isinstance(min, int) and min > max:
            problems.append(f"min {min} is greater than max {max}")
        if isinstance(command, str) or not command or not all(isinstance(c, str) for c in command):
            problems.append("command must be a non-empty list of strings (the program and its arguments)")
        if isinstance(capabilities, str) or not capabilities or not all(isinstance(c, str) for c in capabilities):
            problems.append("capabilities must be a non-empty list of capability names")
        unknown = set(autoscale or {}) - _AUTOSCALE_KEYS
        if unknown:
            problems.append(f"autoscale has unknown keys {sorted(unknown)} (known: {sorted(_AUTOSCALE_KEYS)})")
        up, down = (autoscale or {}).get("up_threshold"), (autoscale or {}).get("down_threshold")
        if isinstance(up, (int, float)) and isinstance(down, (int, float)) and down >= up:
            problems.append(f"autoscale down_threshold {down} must be below up_threshold {up} (POOL-6)")
        if grace < 0 or kill_grace < 0:
            problems.append("grace and kill_grace must be >= 0")
        if problems:
            raise InvalidPoolOptionsError(f"pool {name}: " + "; ".join(problems), details={"issues": problems})
        self.url, self.name, self.min, self.max = url, name, min, max
        self._declaration: Frame = {"type": "pool", "name": name, "capabilities": list(capabilities), "min": min, "max": max,
                                    "autoscale": dict(autoscale) if autoscale else None}
        self._command, self._env, self._cwd = list(command), dict(env or {}), cwd
        self._grace, self._kill_grace, self._restart = grace, kill_grace, restart
        self._token, self._backoff, self._quiet = token, backoff, quiet
        self._run = secrets.token_hex(3)
        self._seq = 0
        self._starting = 0
        self._members: dict[str, Member] = {}
        self._restarts: set[asyncio.TimerHandle] = set()
        self._background: set[asyncio.Future[Any]] = set()
        self._closing = False
        self._closed = asyncio.Event()
        self._watchers: list[Callable[[PoolEvent], None]] = []
        self.client: Client | None = None

    # ---- state ----------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Members running, starting or about to be restarted; not those draining."""
        return self._starting + len(self._restarts) + sum(1 for m in self._members.values() if m.state == "running")

    @property
    def members(self) -> list[Member]:
        return list(self._members.values())

    def watch(self, listener: Callable[[PoolEvent], None]) -> Callable[[], None]:
        """Calls ``listener`` with every later event; returns the function that stops it."""
        self._watchers.append(listener)
        return lambda: self._watchers.remove(listener)

    def _emit(self, event: PoolEvent) -> None:
        for w in list(self._watchers):
            w(event)

    # ---- lifetime -------------------------------------------------------------------------------

    async def start(self) -> "Pool":
        """Connects the supervisor session, declares the pool and starts ``min`` members.

        Raises the broker's refusal (PoolSupervisedError while another session supervises the pool)
        or the first member's failure to start (a command that does not exist)."""
        self.client = await connect(self.url, name=f"{self.name} supervisor", token=self._token, backoff=self._backoff)
        handlers = self.client.session.handlers
        handlers.scale = self._on_scale
        handlers.ready = self._on_ready
        try:
            await self._declare(again=False)
            for _ in range(self.size, self.min):
                await self._start_member(0)
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        """Stops every member (SIGTERM, then SIGKILL after ``kill_grace``), then the supervisor session."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        for handle in self._restarts:
            handle.cancel()
        self._restarts.clear()
        await asyncio.gather(*(self._terminate(m) for m in list(self._members.values())))
        if self.client is not None:
            await self.client.close()
        self._emit(PoolEvent("closed"))
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def __aenter__(self) -> "Pool":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _spawn(self, aw: Any) -> None:
        fut = asyncio.ensure_future(aw)
        self._background.add(fut)
        fut.add_done_callback(self._background.discard)

    # ---- the broker's side ----------------------------------------------------------------------

    async def _declare(self, again: bool) -> None:
        assert self.client is not None
        session = self.client.session
        await session.call({**self._declaration, "ref": session.next_id("p")})
        self._emit(PoolEvent("declared", detail="again" if again else None))

    def _on_ready(self, again: bool) -> None:
        # The broker forgets a supervisor whose session ended [POOL-5]: declare again on a reconnect.
        if again:
            self._spawn(self._declare_again())

    async def _declare_again(self) -> None:
        try:
            await self._declare(again=True)
        except Exception as err:
            log.warning("pool %s: declaring the pool again failed: %s", self.name, err)

    def _on_scale(self, frame: Frame) -> None:
        if frame.get("pool") != self.name or self._closing:
            return
        self._emit(PoolEvent("scale", frame=frame))
        log.info("pool %s: scale %s -> %s (%s)", self.name, frame.get("from"), frame.get("to"), frame.get("reason"))
        drain = frame.get("drain")
        # The broker put these members into DRAINING and told them so [POOL-12]: they finish and exit.
        for agent_id in drain or []:
            member = self._members.get(agent_id)
            if member is not None and member.state == "running":
                self._drain(member, told=True)
        desired = min(self.max, max(self.min, int(frame.get("to", self.min))))
        if drain is None:  # a scale-down naming no member: the newest go
            running = sorted((m for m in self._members.values() if m.state == "running"), key=lambda m: -m.index)
            for member in running[: max(0, self.size - desired)]:
                self._drain(member, told=False)
        for _ in range(self.size, desired):
            self._spawn(self._start_logged())

    # ---- members --------------------------------------------------------------------------------

    async def _start_member(self, crashes: int) -> None:
        index = self._seq
        self._seq += 1
        agent_id = f"{self.name}-{self._run}-{index}"
        env = {**os.environ, **self._env, "AGENTWIRE_URL": self.url, "AGENTWIRE_POOL": self.name, "AGENTWIRE_INSTANCE_ID": agent_id}
        out = asyncio.subprocess.DEVNULL if self._quiet else None
        self._starting += 1
        try:
            process = await asyncio.create_subprocess_exec(*self._command, env=env, cwd=self._cwd, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)
        except OSError as err:  # ENOENT, EACCES: the command cannot work, for this member or any other
            raise InvalidPoolOptionsError(f"pool {self.name}: command {self._command[0]!r} could not be started: {err}") from err
        finally:
            self._starting -= 1
        member = Member(agent_id, index, process, time.monotonic(), crashes)
        self._members[agent_id] = member
        self._emit(PoolEvent("started", id=agent_id))
        self._spawn(self._follow(member))

    async def _start_logged(self, crashes: int = 0) -> None:
        try:
            await self._start_member(crashes)
        except Exception:
            log.exception("pool %s: could not start a member", self.name)

    async def _follow(self, member: Member) -> None:
        code = await member.process.wait()
        member.exited.set_result(code)
        self._on_exit(member, code)

    def _on_exit(self, member: Member, code: int) -> None:
        self._members.pop(member.id, None)
        clean = code == 0
        detail = f"exit code {code}" if code >= 0 else f"signal {-code}"
        left = member.state == "draining" or (clean and self.size >= self.min)
        restart_in = None
        if not self._closing and not left and self.size < self.max:
            up = time.monotonic() - member.started_at
            crashes = (0 if up >= self._restart.reset_after else member.crashes) + 1
            restart_in = min(self._restart.maximum, self._restart.initial * 2 ** (crashes - 1))
            handle: asyncio.TimerHandle

            def restart() -> None:
                self._restarts.discard(handle)
                if not self._closing:
                    self._spawn(self._start_logged(crashes))

            handle = asyncio.get_running_loop().call_later(restart_in, restart)
            self._restarts.add(handle)
        (log.info if clean or left else log.warning)("pool %s: member %s %s (%s)", self.name, member.id, "left" if left else "died", detail)
        self._emit(PoolEvent("exited", id=member.id, clean=clean, left=left, detail=detail, restart_in=restart_in))

    def _drain(self, member: Member, *, told: bool) -> None:
        member.state = "draining"
        self._emit(PoolEvent("draining", id=member.id))
        self._spawn(self._drain_then_stop(member) if told else self._terminate(member))

    async def _drain_then_stop(self, member: Member) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(member.exited), self._grace)
        except asyncio.TimeoutError:
            await self._terminate(member)

    async def _terminate(self, member: Member) -> None:
        member.state = "draining"
        if member.exited.done():
            return
        try:
            member.process.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(member.exited), self._kill_grace)
            except asyncio.TimeoutError:
                member.process.kill()
        except ProcessLookupError:
            pass
        await member.exited
