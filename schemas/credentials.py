"""Secrets read from the environment that the config names: virtual keys (``key_env``), the
analytics readers' tokens (``token_env``), the token Turnout's own processes present to the sink,
and providers' credentials. The config holds only the variables' names (``schemas.config``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from schemas.config import ConfigError, ProviderConfig, ReaderConfig, TurnoutConfig, hash_key

__all__ = ["provider_api_key", "provider_secret", "resolve_readers", "resolve_secrets", "sink_client_token"]


def resolve_secrets(config: TurnoutConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Key hash -> key id for every virtual key, reading ``key_env`` variables."""
    env = os.environ if environ is None else environ
    hashes: dict[str, str] = {}
    for i, key in enumerate(config.keys):
        if key.key_sha256:
            hashes[key.key_sha256] = key.id
        elif key.key_env:
            secret = env.get(key.key_env)
            if not secret:
                raise ConfigError(f"keys.{i}.key_env: environment variable {key.key_env} (key {key.id!r}) is not set")
            hashes[hash_key(secret)] = key.id
    return hashes


def resolve_readers(config: TurnoutConfig, environ: Mapping[str, str] | None = None) -> dict[str, ReaderConfig]:
    """Token hash -> reader for every ``sink.readers`` entry, reading ``token_env`` variables."""
    env = os.environ if environ is None else environ
    readers: dict[str, ReaderConfig] = {}
    for i, reader in enumerate(config.sink.readers):
        if reader.token_sha256:
            readers[reader.token_sha256] = reader
            continue
        secret = env.get(reader.token_env or "")
        if not secret:
            raise ConfigError(f"sink.readers.{i}.token_env: environment variable {reader.token_env} is not set")
        readers[hash_key(secret)] = reader
    return readers


def sink_client_token(config: TurnoutConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The token this process presents to the sink's query port, when one is set."""
    env = os.environ if environ is None else environ
    return env.get(config.sink.client_token_env) or None


def provider_api_key(provider: ProviderConfig, environ: Mapping[str, str] | None = None) -> str | None:
    return provider_secret(provider.api_key_env, environ)


def provider_secret(env_name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the environment variable ``env_name`` (None when unnamed or unset)."""
    env = os.environ if environ is None else environ
    return env.get(env_name) if env_name else None
