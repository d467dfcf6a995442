"""The three dashboards after a small demo run: served by the sink, filled with what this test sent
(figures checked against its own sums), filtered, and rendered by a real headless Chromium (Debian's,
installed by ``make test``), whose screenshots are kept under ``.run/artifacts/dashboards``."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from schemas.config import TurnoutConfig
from sinks.charts import PALETTE, format_value
from tests.e2e.png import count_pixels
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TURNOUT_ARTIFACTS", ROOT / ".run" / "artifacts")) / "dashboards"
RUN = uuid.uuid4().hex[:6]
FEATURE = f"dash-{RUN}"
DEMO_KEY = "sk-turnout-demo"


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    with running_stack(make_config, workers=1) as run:
        yield run


@pytest.fixture(scope="module")
def demo(gateway: tuple[Stack, TurnoutConfig]) -> dict[str, Any]:
    """A small demo run: paid calls on two routes, cache hits, a rating each way."""
    stack, config = gateway
    sdk = openai.OpenAI(base_url=stack.base_url, api_key=DEMO_KEY, max_retries=0, timeout=30)
    cost, ids = 0.0, []
    price = config.deployments["sim-gpt-4o"]
    for i in range(6):
        raw = sdk.chat.completions.with_raw_response.create(
            model="smart-chat",
            messages=[{"role": "user", "content": f"dashboard question {i}"}],
            extra_headers={"x-turnout-feature": FEATURE},
        )
        usage = raw.parse().usage
        assert usage is not None
        cost += (
            usage.prompt_tokens * price.input_usd_per_mtok + usage.completion_tokens * price.output_usd_per_mtok
        ) / 1e6
        ids.append(raw.headers["x-request-id"])
    hits = 0
    for _ in range(3):  # faq-chat caches: the repeats are answered from the cache once it is written
        raw = sdk.chat.completions.with_raw_response.create(
            model="faq-chat",
            temperature=0,
            messages=[{"role": "user", "content": f"How do I reset my password? {RUN}"}],
        )
        hits += raw.headers["x-turnout-cache"] == "hit"
    wait_until(
        lambda: (
            sdk.chat.completions.with_raw_response.create(
                model="faq-chat",
                temperature=0,
                messages=[{"role": "user", "content": f"How do I reset my password? {RUN}"}],
            ).headers["x-turnout-cache"]
            == "hit"
        ),
        30,
        "a cache hit",
    )
    for request_id, score in ((ids[0], 1.0), (ids[1], 0.0)):
        rated = httpx.post(
            f"{stack.base_url}/feedback",
            headers={"authorization": f"Bearer {DEMO_KEY}"},
            json={"request_id": request_id, "score": score},
            timeout=30,
        )
        assert rated.status_code == 200, rated.text
    db = config.clickhouse.database
    wait_until(lambda: run_sql(config, f"SELECT count() FROM {db}.feedback").rows[0][0] == 2, 30, "feedback rows")
    return {"cost": cost}


def _page(config: TurnoutConfig, page: str, query: str = "range=1h") -> str:
    response = httpx.get(f"http://127.0.0.1:{config.sink.query_port}/dashboards/{page}?{query}", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def _bar_values(page: str) -> dict[str, str]:
    """Bar labels and the values printed beside them."""
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", page)]
    return {texts[i]: texts[i + 1] for i in range(len(texts) - 1)}


def test_finance_shows_the_spend_this_test_made(gateway: tuple[Stack, TurnoutConfig], demo: dict[str, Any]) -> None:
    _, config = gateway
    page = _page(config, "finance")
    assert '<main data-page="finance">' in page
    assert page.count('<svg class="chart') == 6 and "No budgets configured." in page
    assert _bar_values(page)[FEATURE] == format_value(demo["cost"], "$")
    assert "cache (answers reused)" in page  # the hits saved what the first answer cost
    other = _page(config, "finance", "range=1h&tenant=globex")
    assert FEATURE not in other and "No spend by feature in this range" in other


def test_reliability_and_quality_pages(gateway: tuple[Stack, TurnoutConfig], demo: dict[str, Any]) -> None:
    _, config = gateway
    reliability = _page(config, "reliability")
    assert '<polyline class="series"' in reliability and "p99" in reliability and "requests / min" in reliability
    assert "No breaker has changed state." in reliability
    quality = _page(config, "quality")
    assert _bar_values(quality)["smart-chat"] == format_value(0.5)  # the two ratings, 1 and 0
    assert "hit 1" in quality  # the cache hits' similarity bin
    assert "No faithfulness scores in this range" in quality
    # the charts' time axis ends at "now": two renders a moment apart can differ by 0.1 px, so a
    # difference must hold over three tries to count
    for _ in range(3):
        bogus = _page(config, "quality", "range=bogus&tenant=x'%20OR%201=1")
        default = _page(config, "quality", "range=24h")
        if bogus == default:
            break
    assert bogus == default


def test_each_page_renders_in_a_real_browser(gateway: tuple[Stack, TurnoutConfig], demo: dict[str, Any]) -> None:
    _, config = gateway
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed: `make test` installs it (scripts/services.sh browser)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for page in ("finance", "reliability", "quality"):
        url = f"http://127.0.0.1:{config.sink.query_port}/dashboards/{page}?range=1h"
        shot = ARTIFACTS / f"{page}.png"
        shot.unlink(missing_ok=True)
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1300"]
        dom = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=60)
        assert f'data-page="{page}"' in dom.stdout, dom.stderr[-2000:]
        subprocess.run([chromium, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=60, check=True)
        assert shot.is_file()
        # the charts' first colour is on screen: lines or bars were drawn, not only frames and text
        assert count_pixels(shot, (0x25, 0x63, 0xEB)) > 150, f"{page}: no chart drawn (see {shot})"
    assert PALETTE[0] == "#2563eb"
