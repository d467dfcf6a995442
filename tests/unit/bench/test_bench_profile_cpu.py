"""bench.profile --cpu reads a whole process's user and system time from /proc."""

from __future__ import annotations

import os
import threading
import time

from bench.profile import _user_system_s


def test_user_time_counts_every_thread_of_the_process() -> None:
    pid = os.getpid()
    user_before, system_before = _user_system_s(pid)
    grown = threading.Event()

    def spin() -> None:  # another thread's time is the process's too
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not grown.is_set():
            sum(range(100_000))  # arithmetic: user time, not system calls
            if _user_system_s(pid)[0] - user_before >= 0.2:
                grown.set()

    thread = threading.Thread(target=spin)
    thread.start()
    thread.join()
    user_after, system_after = _user_system_s(pid)
    assert grown.is_set(), f"user time rose by {user_after - user_before:.2f} s in 10 s of spinning"
    assert user_after - user_before >= 0.2
    assert system_after >= system_before >= 0
