"""agentwire for Python: asyncio agents and clients for an agentwire broker.

    from agentwire import Agent, connect

See README.md for a tour; protocol/SPEC.md of the agentwire repository is the wire's definition.
"""

import logging

from .agent import Agent, DrainReport
from .pool import Pool, PoolEvent, Restart
from .client import Client, Subscription, connect
from .codec import decode_payload, encode_payload
from .context import RequestContext, TaskContext
from .errors import (
    AgentLostError,
    AgentwireError,
    AlreadyRegisteredError,
    BadFrameError,
    BadWorkflowError,
    CancelledError,
    ClosedError,
    ConnectError,
    ConnectionLostError,
    DeadlineExceededError,
    DuplicateAgentError,
    ForbiddenError,
    FrameTooLargeError,
    InternalError,
    InvalidInputError,
    InvalidOutputError,
    InvalidPoolOptionsError,
    LimitExceededError,
    MappingFailedError,
    NoAgentsError,
    NoRespondersError,
    NotFoundError,
    NotRegisteredError,
    OverloadedError,
    PoolSupervisedError,
    ProtocolError,
    RateLimitedError,
    ShuttingDownError,
    SlowConsumerError,
    TimeoutError,
    UnauthorizedError,
    UnknownRunError,
    UnknownTaskError,
    UnknownTypeError,
    UnknownWorkflowError,
    UnsupportedVersionError,
    WorkflowExistsError,
    error_from_code,
)
from .handle import TaskHandle
from .topics import is_pattern, is_topic, topic_matches
from .trace import TraceContext, current_trace
from .types import AgentInfo, Backoff, Capability, Done, Message, Progress
from .workflow import RunEvent, RunHandle, ref, tpl

__version__ = "0.1.0"

# A library logs; the application decides where to (logging.basicConfig() shows reconnects and refusals).
logging.getLogger("agentwire").addHandler(logging.NullHandler())

__all__ = [
    "Agent", "AgentInfo", "AgentLostError", "AgentwireError", "AlreadyRegisteredError", "Backoff", "BadFrameError",
    "CancelledError", "Capability", "Client", "ClosedError", "ConnectError", "ConnectionLostError", "DeadlineExceededError",
    "Done", "DrainReport", "DuplicateAgentError", "ForbiddenError", "FrameTooLargeError", "InternalError", "InvalidInputError",
    "InvalidOutputError", "InvalidPoolOptionsError", "Message", "NoAgentsError", "NoRespondersError", "NotFoundError", "NotRegisteredError",
    "OverloadedError", "Pool", "PoolEvent", "PoolSupervisedError", "Progress", "Restart", "ProtocolError", "RateLimitedError", "RequestContext", "ShuttingDownError",
    "SlowConsumerError", "Subscription", "TaskContext", "TaskHandle", "TimeoutError", "TraceContext", "UnauthorizedError",
    "UnknownTaskError", "UnknownTypeError", "UnsupportedVersionError", "connect", "decode_payload", "encode_payload",
    "current_trace", "error_from_code", "is_pattern", "is_topic", "topic_matches",
    "BadWorkflowError", "LimitExceededError", "MappingFailedError", "RunEvent", "RunHandle", "UnknownRunError",
    "UnknownWorkflowError", "WorkflowExistsError", "ref", "tpl",
]
