"""Every provider adapter, by the ``kind`` a provider has in the config."""

from __future__ import annotations

from streams.providers.anthropic import AnthropicAdapter
from streams.providers.base import ProviderAdapter
from streams.providers.bedrock import BedrockAdapter
from streams.providers.gemini import GeminiAdapter
from streams.providers.openai import OpenAIAdapter

__all__ = ["ADAPTERS", "adapter_for"]

ADAPTERS: dict[str, ProviderAdapter] = {
    "openai": OpenAIAdapter(),
    "anthropic": AnthropicAdapter(),
    "gemini": GeminiAdapter(),
    "bedrock": BedrockAdapter(),
}


def adapter_for(kind: str) -> ProviderAdapter:
    return ADAPTERS[kind]
