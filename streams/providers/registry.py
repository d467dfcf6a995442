"""Every provider adapter, by the ``kind`` a provider has in the config."""

from __future__ import annotations

from streams.providers.base import ProviderAdapter
from streams.providers.openai import OpenAIAdapter

__all__ = ["ADAPTERS", "adapter_for"]

ADAPTERS: dict[str, ProviderAdapter] = {
    "openai": OpenAIAdapter(),
}


def adapter_for(kind: str) -> ProviderAdapter:
    return ADAPTERS[kind]
