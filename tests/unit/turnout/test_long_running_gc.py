"""The gateway, workers and sink collect garbage as long-running processes (``turnout.cli._long_running``).

Each check runs in a fresh interpreter: the collector's settings are process-wide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import gc, json
from turnout.cli import _long_running
before = gc.get_freeze_count()
_long_running()
print(json.dumps({"threshold": gc.get_threshold(), "frozen_before": before, "frozen": gc.get_freeze_count()}))
"""


def _probe(**env: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(out.stdout))


def test_startup_objects_are_frozen_and_young_collections_are_rarer() -> None:
    from turnout.cli import GC_GEN0_THRESHOLD

    seen = _probe(TURNOUT_GC="")
    assert seen["threshold"] == [GC_GEN0_THRESHOLD, 20, 20]
    assert seen["frozen_before"] == 0
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000  # the imported modules, at least


def test_turnout_gc_default_leaves_cpython_as_it_is() -> None:
    seen = _probe(TURNOUT_GC="default")
    assert seen["threshold"] == [700, 10, 10]
    assert seen["frozen"] == 0
