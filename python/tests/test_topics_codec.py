"""The parts that need no broker: topic grammar and matching, frame codec, error registry."""

import unittest

import msgpack

from agentwire import (
    AgentwireError, BadFrameError, CancelledError, InvalidInputError, NoAgentsError, TimeoutError, error_from_code,
    is_pattern, is_topic, topic_matches,
)
from agentwire.codec import decode_frame, encode_frame
from agentwire.context import expiry, now_ms


class Topics(unittest.TestCase):
    def test_topics(self) -> None:
        for ok in ["a", "a.b.c", "market.eu-west.SOL", "ünï.cödé", "x" * 256, ".".join(["t"] * 32)]:
            self.assertTrue(is_topic(ok), ok)
        for bad in ["", "a..b", ".a", "a.", "a.*", "a.>", "a b", "a\tb", "a\u00a0b", "a\u3000b", "x" * 257, ".".join(["t"] * 33), "ü" * 129]:
            self.assertFalse(is_topic(bad), bad)

    def test_patterns(self) -> None:
        for ok in [">", "*", "a.*", "a.>", "*.b.>", "a.*.c"]:
            self.assertTrue(is_pattern(ok), ok)
        for bad in ["", "a.>.b", ">.a", "a*", "a.b*", "a.>>", "a..b", "a. b"]:
            self.assertFalse(is_pattern(bad), bad)

    def test_matching(self) -> None:
        cases = [
            ("a.>", "a.b", True), ("a.>", "a.b.c", True), ("a.>", "a", False), (">", "a", True), (">", "a.b.c", True),
            ("a.*", "a.b", True), ("a.*", "a.b.c", False), ("*.b", "a.b", True), ("a.b", "a.b", True), ("a.b", "a.c", False),
            ("a.*.c", "a.x.c", True), ("a.*.c", "a.x.d", False), ("a", "a.b", False), ("a.b.c", "a.b", False),
        ]
        for pattern, topic, expected in cases:
            self.assertEqual(topic_matches(pattern, topic), expected, f"{pattern} vs {topic}")


class Codec(unittest.TestCase):
    def test_round_trip_drops_nil_fields(self) -> None:
        raw = encode_frame({"type": "heartbeat", "in_flight": 0, "status": None})
        self.assertEqual(msgpack.unpackb(raw), {"type": "heartbeat", "in_flight": 0})
        self.assertEqual(decode_frame(msgpack.packb({"type": "ack", "ref": "r", "x": None})), {"type": "ack", "ref": "r"})

    def test_rejects_what_is_not_a_frame(self) -> None:
        for raw in [b"\x92\x01\x02", msgpack.packb({"no": "type"}), b"\x81\xa4type\xd4\x01\x00", b"\xc1", "text"]:
            with self.assertRaises(BadFrameError, msg=repr(raw)):
                decode_frame(raw)  # type: ignore[arg-type]


class Errors(unittest.TestCase):
    def test_registry_classes_and_retryable(self) -> None:
        self.assertIsInstance(error_from_code("no_agents", "m"), NoAgentsError)
        self.assertIsInstance(error_from_code("cancelled", "m"), CancelledError)
        self.assertIsInstance(error_from_code("timeout", "m"), TimeoutError)
        self.assertTrue(error_from_code("no_agents", "m").retryable)
        self.assertFalse(error_from_code("invalid_input", "m").retryable)
        self.assertFalse(error_from_code("no_agents", "m", retryable=False).retryable)  # the sender's word wins [ERR-4]
        app = error_from_code("x-app-failure", "m")
        self.assertIs(type(app), AgentwireError)
        self.assertFalse(app.retryable)  # unknown codes are not retryable [ERR-10]
        self.assertEqual(InvalidInputError("bad").info(), {"code": "invalid_input", "message": "bad", "retryable": False})


class Deadlines(unittest.TestCase):
    def test_time_left_comes_from_remaining_ms_not_this_clock(self) -> None:
        import time

        # A broker clock an hour behind this one: remaining_ms decides [TASK-34].
        skewed = expiry({"deadline": now_ms() - 3_600_000, "remaining_ms": 5_000}) - time.monotonic()
        self.assertTrue(4.5 < skewed <= 5.0, skewed)
        # A v1.0 broker sends no remaining_ms: the deadline against this clock.
        old = expiry({"deadline": now_ms() + 2_000}) - time.monotonic()
        self.assertTrue(1.5 < old <= 2.0, old)
        self.assertLessEqual(expiry({"deadline": now_ms() - 10, "remaining_ms": 0}), time.monotonic())
