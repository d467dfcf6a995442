"""bench.codec: one line per event with both paths' costs."""

from __future__ import annotations

import pytest

from bench.codec import main


def test_it_prints_both_paths_for_each_event(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--rounds", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["event", "bytes"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert list(rows) == ["ReplyEvent", "AttemptEvent", "UsageEvent", "RequestRecord", "RequestEvent", "StageEvent"]
    for size, *costs in rows.values():
        assert int(size) > 10
        assert len(costs) == 4 and all(float(c) > 0 for c in costs)
