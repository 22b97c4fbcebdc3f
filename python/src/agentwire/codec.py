"""Frames on the wire: one MessagePack map per binary WebSocket message [TRANS-6, ENC-1].

Plain MessagePack only: str for text, bin for payloads, no extension types [ENC-2]; a payload field
is bin holding exactly one MessagePack document [ENC-7].
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import BadFrameError

Frame = dict[str, Any]

#: The largest int a frame may carry outside payloads [ENC-3].
MAX_SAFE_INT = 2**53 - 1


def _no_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"extension type {code} is not allowed")


def encode_frame(frame: Frame) -> bytes:
    """One frame as bytes; absent (None) top-level fields are left out [ENC-12]."""
    return msgpack.packb({k: v for k, v in frame.items() if v is not None}, use_bin_type=True)


def decode_frame(message: bytes | str) -> Frame:
    """A broker frame: one map with a str ``type``; nil top-level fields count as absent [ENC-12].

    Raises BadFrameError for anything else; a peer discards such frames [ENC-14].
    """
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise BadFrameError("a text message is not a frame")
    try:
        frame = msgpack.unpackb(bytes(message), raw=False, strict_map_key=True, ext_hook=_no_ext)
    except Exception as err:  # msgpack raises several types (ExtraData, ValueError, UnpackValueError...)
        raise BadFrameError(f"not one MessagePack map: {err}") from err
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise BadFrameError("a frame is a map with a str type")
    return {k: v for k, v in frame.items() if v is not None}


def encode_payload(value: Any) -> bytes:
    """A payload field: bin holding one MessagePack document of ``value`` [ENC-7]."""
    return msgpack.packb(value, use_bin_type=True)


def decode_payload(data: bytes | None) -> Any:
    """The document a payload field holds (None for an absent one). Map keys may be any type."""
    if data is None:
        return None
    return msgpack.unpackb(data, raw=False, strict_map_key=False)
