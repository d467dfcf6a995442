"""The price of a provider call, from the provider's reported usage and the deployment's prices."""

from __future__ import annotations

from schemas.config import DeploymentConfig
from schemas.events import Usage

__all__ = ["cost_usd"]


def cost_usd(usage: Usage, deployment: DeploymentConfig) -> float:
    """Cached prompt tokens are billed at the cached price where the deployment has one."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_price = deployment.cached_input_usd_per_mtok
    if cached_price is None:
        cached_price = deployment.input_usd_per_mtok
    uncached = usage.prompt_tokens - cached
    micro = (
        uncached * deployment.input_usd_per_mtok
        + cached * cached_price
        + usage.completion_tokens * deployment.output_usd_per_mtok
    )
    return micro / 1_000_000
