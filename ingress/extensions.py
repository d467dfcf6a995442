"""Turnout's own request fields, in one namespaced object beside the provider's: ``"turnout": {...}``.

The official SDKs send it with ``extra_body={"turnout": {...}}``; it is never passed to a provider.

``context``: the chunks a RAG application retrieved and put into its prompt, given again so that the
output guard can check the answer against them (faithfulness). A list of strings, or of objects with
a ``text`` field (``{"text": ..., "id": ...}``; other fields are ignored).
"""

from __future__ import annotations

from typing import Any

from schemas.errors import InvalidRequest

__all__ = ["MAX_CHUNKS", "MAX_CHUNK_CHARS", "context_of"]

MAX_CHUNKS = 64
MAX_CHUNK_CHARS = 32_000


def context_of(body: dict[str, Any]) -> list[str]:
    """The retrieved chunks in ``body["turnout"]["context"]``; none when the field is absent."""
    extension = body.get("turnout")
    if extension is None:
        return []
    if not isinstance(extension, dict):
        raise InvalidRequest("'turnout' must be an object.", param="turnout")
    unknown = sorted(set(extension) - {"context"})
    if unknown:
        raise InvalidRequest(f"Unknown field 'turnout.{unknown[0]}'.", param=f"turnout.{unknown[0]}")
    chunks = extension.get("context", [])
    if not isinstance(chunks, list) or len(chunks) > MAX_CHUNKS:
        raise InvalidRequest(
            f"'turnout.context' must be a list of at most {MAX_CHUNKS} chunks.", param="turnout.context"
        )
    texts = []
    for i, chunk in enumerate(chunks):
        text = chunk.get("text") if isinstance(chunk, dict) else chunk
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_CHUNK_CHARS:
            raise InvalidRequest(
                f"'turnout.context[{i}]' must be a non-empty string (or an object with one in 'text') "
                f"of at most {MAX_CHUNK_CHARS} characters.",
                param=f"turnout.context.{i}",
            )
        texts.append(text)
    return texts
