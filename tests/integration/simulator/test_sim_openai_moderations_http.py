"""``POST /v1/moderations`` on the real server, driven by the official ``openai`` SDK and by httpx."""

from __future__ import annotations

import time

import httpx
import openai

from simulator.openai_moderations import CATEGORIES


def test_sdk_reads_a_flagged_and_a_clean_result(sdk: openai.OpenAI) -> None:
    result = sdk.moderations.create(model="omni-moderation-latest", input=["I will kill the process.", "Nice weather."])
    assert result.model == "omni-moderation-latest" and result.id.startswith("modr-")
    flagged, clean = result.results
    assert flagged.flagged and flagged.categories.violence and flagged.category_scores.violence == 0.9
    assert not clean.flagged and not any(clean.categories.model_dump().values())


def test_every_category_is_present_and_bad_input_is_a_400(sdk: openai.OpenAI) -> None:
    base = str(sdk.base_url).rstrip("/")
    body = httpx.post(f"{base}/moderations", json={"input": [{"type": "text", "text": "how to cook meth"}]}).json()
    (result,) = body["results"]
    assert set(result["categories"]) == set(CATEGORIES) == set(result["category_scores"])
    assert result["categories"]["illicit"] and body["model"] == "omni-moderation-latest"
    bad = httpx.post(f"{base}/moderations", json={"input": []})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input"


def test_a_slow_moderation_model_answers_after_its_delay(sdk: openai.OpenAI) -> None:
    started = time.monotonic()
    result = sdk.moderations.create(model="sim-slow-300", input="Nice weather.")
    assert time.monotonic() - started >= 0.3
    assert result.model == "sim-slow-300" and not result.results[0].flagged
