"""Plain data the SDK hands to applications: messages, registry entries, capabilities, stream events."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Mapping, TypeVar

from .codec import Frame, decode_payload
from .trace import TraceContext

AgentStatus = Literal["ready", "busy", "draining", "unhealthy"]
Priority = Literal["low", "normal", "high", "critical"]
Strategy = Literal["round_robin", "capability", "least_loaded", "priority"]

T = TypeVar("T")


@dataclass(frozen=True)
class Message:
    """A delivered direct message (``topic`` None) or broadcast [MSG-2]."""

    #: The sender's agent id, or a broker's id when ``from_broker`` (do not answer that one) [MSG-7].
    sender: str
    payload: Any
    topic: str | None = None
    correlation_id: str | None = None
    #: True for a broadcast the broker itself sent (a publish over its HTTP API).
    from_broker: bool = False
    #: The W3C trace context the send or publish carried [TRACE-4].
    trace: TraceContext | None = None

    @classmethod
    def from_frame(cls, frame: Frame) -> "Message":
        return cls(frame["from"], decode_payload(frame.get("payload")), frame.get("topic"), frame.get("correlation_id"),
                   frame.get("from_broker") is True, TraceContext.of(frame))


@dataclass(frozen=True)
class Capability:
    """A capability an agent offers [5.25]; the schemas are for people and tools [CAP-6]."""

    name: str
    version: str = "1.0.0"
    description: str | None = None
    tags: tuple[str, ...] = ()
    input_schema: Mapping[str, Any] | None = None
    output_schema: Mapping[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.description is not None:
            out["description"] = self.description
        if self.tags:
            out["tags"] = list(self.tags)
        if self.input_schema is not None:
            out["input_schema"] = dict(self.input_schema)
        if self.output_schema is not None:
            out["output_schema"] = dict(self.output_schema)
        return out

    @classmethod
    def from_wire(cls, c: Mapping[str, Any]) -> "Capability":
        return cls(c["name"], c.get("version", "1.0.0"), c.get("description"), tuple(c.get("tags", ())), c.get("input_schema"), c.get("output_schema"))


@dataclass(frozen=True)
class AgentInfo:
    """One registry entry of an ``agents`` answer [5.26]."""

    agent_id: str
    name: str
    broker_id: str
    status: str
    in_flight: int
    capacity: int
    tier: int
    tags: tuple[str, ...]
    capabilities: tuple[Capability, ...]
    connected_at: int
    #: v1.2: the pool the agent is a member of (``register.pool``) [POOL-2]; None when none.
    pool: str | None = None

    @classmethod
    def from_wire(cls, a: Mapping[str, Any]) -> "AgentInfo":
        return cls(
            a["agent_id"], a.get("name", a["agent_id"]), a.get("broker_id", ""), a.get("status", "ready"),
            int(a.get("in_flight", 0)), int(a.get("capacity", 0)), int(a.get("tier", 0)), tuple(a.get("tags", ())),
            tuple(Capability.from_wire(c) for c in a.get("capabilities", ())), int(a.get("connected_at", 0)),
            a.get("pool"),
        )


@dataclass(frozen=True)
class Progress(Generic[T]):
    """A progress update of a streamed task."""

    data: T
    kind: Literal["progress"] = field(default="progress", repr=False)


@dataclass(frozen=True)
class Done(Generic[T]):
    """The last event of a streamed task: its output."""

    output: T
    kind: Literal["result"] = field(default="result", repr=False)


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: exponential from ``initial`` to ``maximum`` seconds, with equal jitter [HB-8]."""

    initial: float = 0.1
    maximum: float = 5.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.maximum, self.initial * 2 ** min(attempt, 30))
        return ceiling / 2 + random.random() * ceiling / 2
