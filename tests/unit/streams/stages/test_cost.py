"""The price of a call: prompt, cached prompt and completion tokens at the deployment's prices."""

from __future__ import annotations

import pytest

from schemas.config import DeploymentConfig
from schemas.events import Usage
from streams.stages.cost import cost_usd

WITH_CACHED_PRICE = DeploymentConfig(
    provider="p", model="m", input_usd_per_mtok=2.5, output_usd_per_mtok=10.0, cached_input_usd_per_mtok=1.25
)
WITHOUT_CACHED_PRICE = DeploymentConfig(provider="p", model="m", input_usd_per_mtok=0.15, output_usd_per_mtok=0.6)
FREE = DeploymentConfig(provider="p", model="m")


@pytest.mark.parametrize(
    ("usage", "deployment", "expected"),
    [
        (Usage(), WITH_CACHED_PRICE, 0.0),
        (Usage(prompt_tokens=1_000_000), WITH_CACHED_PRICE, 2.5),
        (Usage(completion_tokens=1_000_000), WITH_CACHED_PRICE, 10.0),
        # 400k uncached at 2.50, 600k cached at 1.25, 200k out at 10.00
        (Usage(prompt_tokens=1_000_000, cached_tokens=600_000, completion_tokens=200_000), WITH_CACHED_PRICE, 3.75),
        # no cached price: cached tokens cost the input price
        (Usage(prompt_tokens=1_000_000, cached_tokens=600_000, completion_tokens=200_000), WITHOUT_CACHED_PRICE, 0.27),
        # cached tokens beyond the prompt are capped at the prompt
        (Usage(prompt_tokens=100, cached_tokens=500), WITH_CACHED_PRICE, 0.000125),
        (
            Usage(prompt_tokens=19, completion_tokens=10, cached_tokens=8, total_tokens=29),
            WITH_CACHED_PRICE,
            (11 * 2.5 + 8 * 1.25 + 10 * 10.0) / 1e6,
        ),
        (Usage(prompt_tokens=123_456, completion_tokens=7_890), FREE, 0.0),
    ],
)
def test_cost_usd(usage: Usage, deployment: DeploymentConfig, expected: float) -> None:
    assert cost_usd(usage, deployment) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_a_free_cached_price_is_free_not_the_input_price() -> None:
    deployment = DeploymentConfig(provider="p", model="m", input_usd_per_mtok=1.0, cached_input_usd_per_mtok=0.0)
    assert cost_usd(Usage(prompt_tokens=1_000_000, cached_tokens=1_000_000), deployment) == 0.0
