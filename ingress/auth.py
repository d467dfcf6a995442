"""Virtual keys: a client's API key -> who it is (tenant, team, user, tier) and what it may use.

Keys are compared by SHA-256 hash; the secret itself is neither stored nor logged.
"""

from __future__ import annotations

from schemas.config import TurnoutConfig, VirtualKeyConfig, hash_key
from schemas.credentials import resolve_secrets
from schemas.errors import AuthenticationFailed
from schemas.events import Caller

__all__ = ["KeyRing", "bearer_token"]


def bearer_token(authorization: str | None, x_api_key: str | None = None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return x_api_key or None


class KeyRing:
    def __init__(self, config: TurnoutConfig) -> None:
        by_id = {k.id: k for k in config.keys}
        self._by_hash: dict[str, VirtualKeyConfig] = {h: by_id[i] for h, i in resolve_secrets(config).items()}

    def authenticate(self, secret: str | None, feature: str | None = None) -> tuple[Caller, VirtualKeyConfig]:
        key = self._by_hash.get(hash_key(secret)) if secret else None
        if key is None:
            raise AuthenticationFailed("Incorrect API key provided." if secret else "You didn't provide an API key.")
        caller = Caller(tenant=key.tenant, team=key.team, user=key.user, tier=key.tier, key_id=key.id, feature=feature)
        return caller, key
