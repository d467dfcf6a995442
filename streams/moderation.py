"""A moderation endpoint, asked about a reply: OpenAI's ``POST /v1/moderations`` (and any server that
speaks it). One pooled httpx client per worker; a slow or failing endpoint is bounded by the
config's ``timeout_ms`` and then handled by its ``on_error``."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from schemas.config import ModerationConfig, ProviderConfig
from schemas.credentials import provider_api_key

__all__ = ["ModerationClient", "ModerationVerdict"]


@dataclass(frozen=True, slots=True)
class ModerationVerdict:
    flagged: bool
    category: str  # the highest-scoring flagged category ("" when not flagged)
    score: float


class ModerationClient:
    def __init__(self) -> None:
        self._http = httpx.AsyncClient(limits=httpx.Limits(max_connections=32))

    async def moderate(self, text: str, setting: ModerationConfig, provider: ProviderConfig) -> ModerationVerdict:
        """Raises ``httpx.HTTPError`` or ``ValueError`` when the endpoint does not answer as documented."""
        headers = {}
        key = provider_api_key(provider)
        if key:
            headers["authorization"] = f"Bearer {key}"
        response = await self._http.post(
            f"{provider.base_url.rstrip('/')}/moderations",
            json={"model": setting.model, "input": text},
            headers=headers,
            timeout=setting.timeout_ms / 1000,
        )
        response.raise_for_status()
        results = response.json().get("results")
        if not isinstance(results, list) or not results:
            raise ValueError("the moderation reply has no results")
        flagged, category, score = False, "", 0.0
        for result in results:
            scores = result.get("category_scores") or {}
            for name, hit in (result.get("categories") or {}).items():
                if hit and float(scores.get(name, 1.0)) >= score:
                    flagged, category, score = True, name, float(scores.get(name, 1.0))
            flagged = flagged or bool(result.get("flagged"))
        return ModerationVerdict(flagged, category or ("flagged" if flagged else ""), score)

    async def close(self) -> None:
        await self._http.aclose()
