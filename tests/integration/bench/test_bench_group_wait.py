"""The harness waits for every Turnout worker to join its consumer group before the first request."""

from __future__ import annotations

import time
import uuid

from turnout.kafka_admin import wait_for_group


def test_a_group_nobody_joined_is_reported_not_waited_for_forever(kafka_bootstrap: str) -> None:
    group = f"bench-test-{uuid.uuid4().hex[:8]}-stages"
    started = time.monotonic()
    problem = wait_for_group(kafka_bootstrap, group, 2, timeout_s=1.0)
    assert problem is not None
    assert group in problem and "2 members" in problem
    assert time.monotonic() - started < 15
