"""``turnout.stack.free_port``: ports a server can bind, clear of the kernel's range for outgoing
connections, never handed out twice by one process."""

from __future__ import annotations

import socket

import pytest

from turnout import stack
from turnout.stack import _ephemeral_low, free_port


def test_ports_are_below_the_ephemeral_range_bindable_and_not_repeated() -> None:
    low = _ephemeral_low()
    seen = [free_port() for _ in range(50)]
    assert len(set(seen)) == 50
    assert all(1024 <= port < low for port in seen)
    with socket.socket() as s:
        s.bind(("127.0.0.1", seen[-1]))


def test_a_span_is_free_end_to_end_and_not_handed_out_again() -> None:
    first = free_port(span=3)
    held = []
    try:
        for port in range(first, first + 3):
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            held.append(s)
    finally:
        for s in held:
            s.close()
    later = {free_port() for _ in range(200)}
    assert later.isdisjoint(range(first, first + 3))


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy, socket.socket() as probe:
        busy.bind(("127.0.0.1", free_port()))
        busy.listen()
        probe.bind(("127.0.0.1", 0))
        other = probe.getsockname()[1]
        probe.close()  # free again, and never handed out by free_port
        draws = iter([busy.getsockname()[1], other])
        monkeypatch.setattr(stack.random, "randrange", lambda low, high: next(draws))
        assert free_port() == other
