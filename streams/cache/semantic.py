"""The semantic cache's core: scopes, keys, the multi-turn policy, and lookup and store over a vector store.

Pure apart from the embedder and the store it is given: no Kafka, no Redis, no HTTP; expiry goes by the
``now_s`` each call is given (a probe only times itself). The cache stage calls, for a request that
:func:`semantic_allowed` lets through and :func:`semantic_text` gives a text for::

    scope = CacheScope.for_request(caller.tenant, request)
    hit = cache.lookup(scope, text, now_s)          # CacheHit or None
    ...                                             # on a miss, after the answer came back:
    cache.store(scope, text, answer, ttl_s, now_s)

A hit needs all of: the same tenant, logical model and answer-changing parameters (the scope, also
checked again on the payload), an unexpired entry, a cosine similarity at or above the route's
threshold, and every near-miss guard of :mod:`streams.cache.guards` agreeing. :func:`exact_key` is the
key for the exact-match cache in Redis, which is asked first.
"""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from schemas.config import DEFAULT_CACHE_THRESHOLD
from schemas.events import ChatMessage, ChatRequest
from streams.cache.embedders import Embedder
from streams.cache.guards import DEFAULT_GUARDS, PairGuard, check_pair
from streams.cache.store import VectorStore

__all__ = [
    "DEFAULT_THRESHOLD",
    "CacheHit",
    "CacheProbe",
    "CacheScope",
    "MultiTurnPolicy",
    "SemanticCache",
    "WindowedEmbedder",
    "context_digest",
    "entry_payload",
    "exact_key",
    "params_digest",
    "semantic_allowed",
    "semantic_text",
]

# Cosine similarity of all-MiniLM-L6-v2 with the guards on; EMBEDDERS.md has the curve it was read from.
DEFAULT_THRESHOLD = DEFAULT_CACHE_THRESHOLD
DEFAULT_CANDIDATES = 4
DEFAULT_MAX_CHARS = 1000
_KEY_VERSION = 1

MultiTurnPolicy = Literal["off", "last_user"]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _json_or_text(raw: str | None) -> Any:
    """Parsed JSON (so key order and whitespace do not matter), or the raw text when it is not JSON."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _text(content: str | None) -> str | None:
    if content is None:
        return None
    return unicodedata.normalize("NFC", content.replace("\r\n", "\n")).strip()


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages as plain data, tool-call ids renamed by order of appearance (providers make them up anew)."""
    ids: dict[str, str] = {}

    def rename(call_id: str | None) -> str | None:
        if call_id is None:
            return None
        return ids.setdefault(call_id, f"call{len(ids)}")

    out = []
    for m in messages:
        out.append(
            {
                "role": m.role,
                "content": _text(m.content),
                "parts": _json_or_text(m.parts_json),
                "name": m.name,
                "tool_call_id": rename(m.tool_call_id),
                "tool_calls": [[rename(c.id), c.name, _json_or_text(c.arguments)] for c in m.tool_calls],
            }
        )
    return out


def _answer_params(request: ChatRequest) -> dict[str, Any]:
    """Every request field that can change the answer, besides the model and the messages."""
    return {
        "temperature": _number(request.temperature),
        "top_p": _number(request.top_p),
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "stop": sorted(set(request.stop)),
        "tools": _json_or_text(request.tools_json),
        "tool_choice": _json_or_text(request.tool_choice_json),
        "response_format": _json_or_text(request.response_format_json),
        "extra": _json_or_text(request.extra_json),
        "context": list(request.context),
    }


def _sha256(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


def exact_key(tenant: str, request: ChatRequest) -> str:
    """The exact-match cache key: SHA-256 over tenant, model, messages and the answer-changing parameters.

    Normalised so that equal requests meet: JSON fields (tools, tool choice, response format, extra) are
    compared parsed, stop sequences as a set, floats as floats, message text NFC with ``\\r\\n`` as ``\\n`` and
    outer whitespace stripped, tool-call ids by order of appearance. Left out, as they change no answer:
    ``stream``, ``include_usage`` and ``user``.
    """
    return _sha256(
        {
            "v": _KEY_VERSION,
            "tenant": tenant,
            "model": request.model,
            "messages": _messages(request.messages),
            "params": _answer_params(request),
        }
    )


def _last_user_index(messages: Sequence[ChatMessage]) -> int | None:
    if messages and messages[-1].role == "user":
        return len(messages) - 1
    return None


def context_digest(messages: Sequence[ChatMessage]) -> str:
    """A digest of everything before the last user turn: system prompts and earlier turns."""
    index = _last_user_index(messages)
    earlier = messages[:index] if index is not None else messages
    return _sha256(_messages(earlier))


def params_digest(request: ChatRequest) -> str:
    """The scope's third part: answer-changing parameters and the context before the last user turn."""
    return _sha256({"v": _KEY_VERSION, "params": _answer_params(request), "context": context_digest(request.messages)})


def semantic_text(
    messages: Sequence[ChatMessage], policy: MultiTurnPolicy = "last_user", max_chars: int = DEFAULT_MAX_CHARS
) -> str | None:
    """The text to embed, or ``None`` when the request is not for the semantic cache.

    ``last_user``: the last message must be a plain-text user turn; its text is embedded, and all that came
    before it (system prompt, earlier turns) is in the scope through :func:`params_digest`, so a follow-up
    like "and in Germany?" only meets entries with the very same conversation before it. ``off``: only a
    single user turn (after any system messages) qualifies. Multimodal parts, tool traffic, empty and
    over-long texts are ``None``.
    """
    index = _last_user_index(messages)
    if index is None:
        return None
    last = messages[index]
    if last.parts_json is not None or last.tool_calls or last.tool_call_id is not None:
        return None
    if policy == "off" and any(m.role != "system" for m in messages[:index]):
        return None
    text = _text(last.content)
    if not text or len(text) > max_chars:
        return None
    return text


def semantic_allowed(temperature: float | None, max_temperature: float = 0.3, default_temperature: float = 1.0) -> bool:
    """Whether answers at this temperature are stable enough to share; unset means the provider's default."""
    value = default_temperature if temperature is None else temperature
    return value <= max_temperature


@dataclass(frozen=True, slots=True)
class CacheScope:
    """Where an entry may be found again: one tenant, one logical model, one set of answer-changing parameters."""

    tenant: str
    model: str
    params: str
    namespace: str = "default"

    @classmethod
    def for_request(cls, tenant: str, request: ChatRequest, namespace: str = "default") -> CacheScope:
        return cls(tenant=tenant, model=request.model, params=params_digest(request), namespace=namespace)

    def filter(self) -> dict[str, str]:
        return {"tenant": self.tenant, "model": self.model, "params": self.params, "namespace": self.namespace}

    def entry_id(self, query: str) -> str:
        """The entry's id: the same query stored twice in one scope is one entry (replays are idempotent)."""
        normal = " ".join(unicodedata.normalize("NFKC", query).casefold().split())
        parts = (self.tenant, self.model, self.params, self.namespace, normal)
        digest = hashlib.sha256("\0".join(parts).encode()).digest()
        return str(uuid.UUID(bytes=digest[:16]))


@dataclass(frozen=True, slots=True)
class CacheHit:
    entry_id: str
    similarity: float
    answer: str
    query: str
    age_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CacheProbe:
    """A lookup with its reasons: the hit, if any, and each candidate above the threshold that a guard refused."""

    hit: CacheHit | None
    best_similarity: float | None
    rejected: tuple[tuple[float, str], ...] = field(default_factory=tuple)
    elapsed_ms: float = 0.0


@runtime_checkable
class WindowedEmbedder(Protocol):
    def fits(self, text: str) -> bool: ...


class SemanticCache:
    """Lookup and store of answers by meaning, within a :class:`CacheScope`."""

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        threshold: float = DEFAULT_THRESHOLD,
        guards: tuple[PairGuard, ...] = DEFAULT_GUARDS,
        candidates: int = DEFAULT_CANDIDATES,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        self.embedder = embedder
        self.vectors = store
        self.threshold = threshold
        self.guards = guards
        self.candidates = candidates
        self.max_chars = max_chars

    def cacheable(self, query: str) -> bool:
        """Short enough to embed whole: a text cut to the model's window could match one that differs later."""
        if not query.strip() or len(query) > self.max_chars:
            return False
        return not isinstance(self.embedder, WindowedEmbedder) or self.embedder.fits(query)

    def lookup(
        self,
        scope: CacheScope,
        query: str,
        now_s: float,
        threshold: float | None = None,
        max_age_s: float | None = None,
    ) -> CacheHit | None:
        """The stored answer to a query that means the same, or ``None``. ``threshold`` is the route's, if set;
        with ``max_age_s``, only entries at most that old answer."""
        return self.probe(scope, query, now_s, threshold, max_age_s).hit

    def probe(
        self,
        scope: CacheScope,
        query: str,
        now_s: float,
        threshold: float | None = None,
        max_age_s: float | None = None,
    ) -> CacheProbe:
        started = time.perf_counter()
        if not self.cacheable(query):
            return CacheProbe(hit=None, best_similarity=None)
        floor = self.threshold if threshold is None else threshold
        vector = self.embedder.embed([query])[0]
        found = self.vectors.search(vector, scope.filter(), self.candidates)
        best = found[0].score if found else None
        rejected: list[tuple[float, str]] = []
        hit = None
        wanted = scope.filter()
        for candidate in found:
            payload = candidate.payload
            if candidate.score < floor:
                break
            if any(payload.get(k) != v for k, v in wanted.items()):
                continue
            if float(payload.get("expires_at", 0.0)) <= now_s:
                self.vectors.delete(candidate.id)
                continue
            created = float(payload.get("created_at", 0.0))
            if max_age_s is not None and now_s - created > max_age_s:
                rejected.append((candidate.score, "max_age"))
                continue
            reason = check_pair(query, str(payload["query"]), self.guards)
            if reason is not None:
                rejected.append((candidate.score, reason))
                continue
            hit = CacheHit(
                candidate.id, candidate.score, str(payload["answer"]), str(payload["query"]), max(0.0, now_s - created)
            )
            break
        elapsed = (time.perf_counter() - started) * 1000
        return CacheProbe(hit=hit, best_similarity=best, rejected=tuple(rejected), elapsed_ms=elapsed)

    def store(self, scope: CacheScope, query: str, answer: str, ttl_s: float, now_s: float) -> str | None:
        """Keep ``answer`` for ``ttl_s`` seconds; the entry's id, or ``None`` when the query is not cacheable."""
        if ttl_s <= 0 or not self.cacheable(query):
            return None
        entry_id = scope.entry_id(query)
        self.vectors.upsert(
            entry_id, self.embedder.embed([query])[0], entry_payload(scope, query, answer, now_s, ttl_s)
        )
        return entry_id


def entry_payload(scope: CacheScope, query: str, answer: str, now_s: float, ttl_s: float) -> dict[str, str | float]:
    """What an entry's point carries besides its vector: the scope (checked again on every hit), the
    query (for the guards), the answer and the times."""
    return {
        **scope.filter(),
        "query": query,
        "answer": answer,
        "created_at": float(now_s),
        "expires_at": float(now_s + ttl_s),
    }
