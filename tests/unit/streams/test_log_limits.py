"""Repeated Kafka client log lines are let through once per kind every few seconds, with a count."""

from __future__ import annotations

import logging

import pytest

from streams.log_limits import KAFKA_CLIENT_LOGGERS, RDKAFKA_LOGGER, RepeatLimit, limit_repeats, rdkafka_logging
from tests.conftest import free_port
from turnout.stack import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str, *args: object, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_repeats_within_the_window_are_dropped_and_counted_on_the_next_line() -> None:
    clock = Clock()
    limit = RepeatLimit(every_s=10, clock=clock)
    assert limit.filter(_record("Unable connect to node with id %s: %s", 1, "refused"))
    for i in range(5):
        clock.now = 1.0 + i
        assert not limit.filter(_record("Unable connect to node with id %s: %s", 1, f"refused {i}"))
    clock.now = 10.5
    after = _record("Unable connect to node with id %s: %s", 1, "refused")
    assert limit.filter(after)
    assert after.getMessage() == "Unable connect to node with id 1: refused [5 more like this in the last 10 s]"
    clock.now = 21.0
    quiet = _record("Unable connect to node with id %s: %s", 1, "refused")
    assert limit.filter(quiet) and quiet.getMessage() == "Unable connect to node with id 1: refused"


def test_kinds_are_counted_apart_by_logger_and_template() -> None:
    limit = RepeatLimit(every_s=10, clock=Clock())
    assert limit.filter(_record("Unable to update metadata from %s", [1]))
    assert limit.filter(_record("Failed fetch messages from %s: %s", 1, "x"))
    assert limit.filter(_record("Unable to update metadata from %s", [1], name="aiokafka.conn"))
    assert not limit.filter(_record("Unable to update metadata from %s", [2]))


def test_the_limit_is_put_on_the_kafka_client_loggers(caplog: pytest.LogCaptureFixture) -> None:
    limit = limit_repeats(every_s=60)
    try:
        with caplog.at_level(logging.ERROR):
            client = logging.getLogger("aiokafka")
            for _ in range(100):
                client.error("Unable connect to node with id %s: %s", 1, "refused")
        assert [r.getMessage() for r in caplog.records] == ["Unable connect to node with id 1: refused"]
    finally:
        for name in KAFKA_CLIENT_LOGGERS:
            logging.getLogger(name).removeFilter(limit)


def _rdkafka(client: str, text: str, facility: str = "FAIL") -> logging.LogRecord:
    return _record("%s [%s] %s", facility, client, text, name=RDKAFKA_LOGGER)


def test_librdkafka_lines_are_told_apart_by_client_facility_and_text_without_numbers() -> None:
    limit = RepeatLimit(every_s=10, clock=Clock())
    refused = (
        "127.0.0.1:19092/bootstrap: Connect to ipv4#127.0.0.1:19092 failed: Connection refused "
        "(after 0ms in state CONNECT)"
    )
    assert limit.filter(_rdkafka("rdkafka#consumer-2", refused))
    assert not limit.filter(_rdkafka("rdkafka#consumer-2", refused.replace("0ms", "3ms")))  # the same, numbers aside
    assert limit.filter(_rdkafka("rdkafka#producer-1", refused))  # another client
    assert limit.filter(_rdkafka("rdkafka#consumer-2", refused, facility="ERROR"))
    assert limit.filter(_rdkafka("rdkafka#consumer-2", "GroupCoordinator: Timed out 1 in-flight", facility="REQTMOUT"))


def test_a_librdkafka_client_logs_through_python_and_is_limited(caplog: pytest.LogCaptureFixture) -> None:
    """A real consumer pointed at a port nobody listens on: librdkafka tries to connect about twenty
    times a second; with its lines sent to Python's logging and limited, one gets through."""
    from confluent_kafka import Consumer

    limit = limit_repeats(every_s=60)
    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{free_port()}", "group.id": "nobody", **rdkafka_logging()})
    try:
        with caplog.at_level(logging.ERROR, logger=RDKAFKA_LOGGER):
            consumer.subscribe(["nothing"])
            wait_until(lambda: consumer.poll(0.05) is None and limit.dropped >= 10, 30, "repeated connection failures")
        lines = [r.getMessage() for r in caplog.records if r.name == RDKAFKA_LOGGER]
        assert len(lines) == 1 and "Connection refused" in lines[0], lines
    finally:
        consumer.close()
        for name in KAFKA_CLIENT_LOGGERS:
            logging.getLogger(name).removeFilter(limit)


def test_the_cli_tools_admin_client_logs_through_python_not_stderr(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """Topic set-up (every CLI command that touches Kafka does it) against a port nobody listens on:
    librdkafka's connection failures, about twenty a second, reach Python's logging and its repeat
    limit, not stderr; the caller gets a clear error."""
    from schemas.errors import ServiceUnavailable
    from turnout.kafka_admin import ensure_topics

    limit = limit_repeats(every_s=60)
    try:
        with (
            caplog.at_level(logging.ERROR, logger=RDKAFKA_LOGGER),
            pytest.raises(ServiceUnavailable, match="Kafka is unreachable"),
        ):
            ensure_topics(f"127.0.0.1:{free_port()}", ["nothing"], 1, timeout_s=2)
        lines = [r.getMessage() for r in caplog.records if r.name == RDKAFKA_LOGGER]
        assert len(lines) == 1 and "Connection refused" in lines[0], lines
        assert limit.dropped >= 10
        assert "rdkafka#" not in capfd.readouterr().err
    finally:
        for name in KAFKA_CLIENT_LOGGERS:
            logging.getLogger(name).removeFilter(limit)
