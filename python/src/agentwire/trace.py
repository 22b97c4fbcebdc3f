"""W3C trace context [TRACE-*]: the ``traceparent`` and ``tracestate`` a frame carries.

A handler runs with its frame's trace context current (a ``ContextVar``, so it follows every
``await`` and every task the handler starts), and what it sends — a nested submit, send, publish or
request — carries that context on unchanged [TRACE-8]. ``trace=`` on those calls sets it explicitly.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


@dataclass(frozen=True)
class TraceContext:
    """One frame's trace context: a W3C traceparent, and the tracestate that goes with it."""

    traceparent: str
    tracestate: str | None = None

    def __post_init__(self) -> None:
        tp = self.traceparent
        if not _TRACEPARENT.match(tp) or tp.startswith("ff") or tp[3:35] == "0" * 32 or tp[36:52] == "0" * 16:
            raise ValueError(f"not a W3C traceparent: {tp!r} (TRACE-1)")

    @staticmethod
    def of(frame: dict[str, Any]) -> "TraceContext | None":
        """The trace context a received frame carries, or None (a tracestate alone names no parent, TRACE-2)."""
        tp = frame.get("traceparent")
        if not isinstance(tp, str):
            return None
        ts = frame.get("tracestate")
        try:
            return TraceContext(tp, ts if isinstance(ts, str) else None)
        except ValueError:
            return None  # a broker validates it (TRACE-3); a malformed one carries nothing on


_current: ContextVar[TraceContext | None] = ContextVar("agentwire_trace", default=None)


def current_trace() -> TraceContext | None:
    """The trace context of the handler running now, or None."""
    return _current.get()


def use_trace(trace: TraceContext | None) -> Any:
    """Makes ``trace`` current; returns the token ``_current.reset`` takes."""
    return _current.set(trace)


def reset_trace(token: Any) -> None:
    _current.reset(token)


def trace_fields(trace: TraceContext | None) -> dict[str, str | None]:
    """The frame fields for an outgoing frame: ``trace``, else the current one; None values are left out."""
    t = trace if trace is not None else _current.get()
    return {"traceparent": None, "tracestate": None} if t is None else {"traceparent": t.traceparent, "tracestate": t.tracestate}
