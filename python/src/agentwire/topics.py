"""Topics and patterns, per the grammar of SPEC §9.2 [TOPIC-1..4].

The broker sends one ``message`` per publish to a session however many of its patterns match
[TOPIC-8], and the frame does not name the pattern, so handlers are picked here by matching locally.
"""

from __future__ import annotations

MAX_BYTES = 256
MAX_TOKENS = 32

_WHITE_SPACE = frozenset(
    [chr(c) for c in range(0x09, 0x0E)]
    + ["\u0020", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"]
)


def _is_tchar(ch: str) -> bool:
    o = ord(ch)
    if ch in ".*>" or o <= 0x1F or 0x7F <= o <= 0x9F:
        return False
    return ch not in _WHITE_SPACE


def _is_token(token: str) -> bool:
    return token != "" and all(_is_tchar(ch) for ch in token)


def _within_limits(value: str) -> bool:
    return 1 <= len(value.encode("utf-8")) <= MAX_BYTES and value.count(".") + 1 <= MAX_TOKENS


def is_topic(value: str) -> bool:
    """Whether ``value`` is a topic: tokens joined by ``.``, no wildcards [TOPIC-1]."""
    return _within_limits(value) and all(_is_token(t) for t in value.split("."))


def is_pattern(value: str) -> bool:
    """Whether ``value`` is a pattern: ``*`` as whole tokens, ``>`` only as the whole last token [TOPIC-2]."""
    if not _within_limits(value):
        return False
    tokens = value.split(".")
    for i, token in enumerate(tokens):
        if token == ">" and i == len(tokens) - 1:
            continue
        if token != "*" and not _is_token(token):
            return False
    return True


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether ``pattern`` matches ``topic`` [TOPIC-3, TOPIC-4]."""
    p = pattern.split(".")
    t = topic.split(".")
    for i, token in enumerate(p):
        if token == ">" and i == len(p) - 1:
            return len(t) > i
        if i >= len(t) or (token != "*" and token != t[i]):
            return False
    return len(p) == len(t)
