"""The guards package is pure (no faust, httpx or redis) and exports what it names; it is fast."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.guards.content import ContentFilter
from streams.guards.injection import injection_score
from streams.guards.pii import find_pii

MODULES = (
    "streams.guards",
    "streams.guards.findings",
    "streams.guards.checksums",
    "streams.guards.phones",
    "streams.guards.pii",
    "streams.guards.secrets",
    "streams.guards.redact",
    "streams.guards.injection",
    "streams.guards.injection_rule",
    "streams.guards.injection_rules",
    "streams.guards.injection_roles",
    "streams.guards.injection_model",
    "streams.guards.train_injection",
    "streams.guards.banned",
    "streams.guards.content",
    "streams.guards.json_output",
)
SHARED_CASES = Path(__file__).resolve().parents[4].parent / "shared" / "eval" / "guard-cases.jsonl"


def test_the_package_is_pure_and_exports_what_it_names() -> None:
    code = (
        "import importlib, sys; "
        f"mods = [importlib.import_module(n) for n in {MODULES!r}]; "
        "missing = [n for m in mods for n in getattr(m, '__all__', []) if not hasattr(m, n)]; "
        "loaded = sorted({n.split('.')[0] for n in sys.modules} & {'faust', 'httpx', 'redis'}); "
        "print(missing, loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"


def test_input_and_output_checks_on_2kb_prompts_are_deterministic() -> None:
    """A loose bound that catches a regex gone quadratic, not a benchmark (the eval reports latency)."""
    texts = [json.loads(line)["text"] for line in SHARED_CASES.read_text().splitlines()]
    blob = " ".join(texts)
    prompts = [blob[i : i + 2048] for i in range(0, len(blob) - 2048, 1024)]
    content = ContentFilter()
    for prompt in prompts:
        find_pii(prompt)
    for prompt in prompts:  # their cost is measured by python -m bench.guardrails, never asserted here
        assert find_pii(prompt) == find_pii(prompt)
        assert 0.0 <= injection_score(prompt) <= 1.0
        content.check(prompt)


RND = random.Random(1)
AWKWARD = {
    "number-table": " ".join(str(RND.randint(1000, 9999)) for _ in range(400)),
    "phone-list": " / ".join(f"020 7946 {RND.randint(1000, 9999)}" for _ in range(30)),
    "digits-and-dots": ".".join("1" for _ in range(1024)),
    "digits-and-spaces": " ".join("1" for _ in range(1024)),
    "base64": "".join(
        RND.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(2048)
    ),
    "at-signs": "a@" * 1024,
    "colons": ":" * 2048,
    "password-words": "password " * 230,
    "attack-words": " ".join(RND.choice(["ignore", "your", "previous", "system", "prompt", "you"]) for _ in range(400)),
}


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_awkward_2kb_inputs_do_not_backtrack_for_minutes(name: str) -> None:
    text = AWKWARD[name][:2048]
    find_pii(text)
    start = time.perf_counter()
    find_pii(text)
    injection_score(text)
    # not a speed claim (bench.guardrails measures that): catastrophic backtracking takes minutes
    assert time.perf_counter() - start < 2.0
