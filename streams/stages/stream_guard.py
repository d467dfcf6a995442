"""Output guardrails on a stream, as it passes.

The invoker hands each coalesced chunk's text to ``feed`` before it goes to the client. The guard
holds back only what it must, so that the first tokens are not kept waiting:

- a blocking content filter holds back the last ``HOLD`` characters, so that a pattern split across
  two chunks is seen whole before any of it is released. A pattern longer than ``HOLD`` could pass
  in pieces: the whole reply is checked again at the end by the output guard (as a flag);
- placeholders to restore hold back an unclosed ``[`` in the last ``PLACEHOLDER_MAX`` characters
  (``[EMAIL_`` waits for its ``1]``), nothing else;
- a flagging filter holds back nothing (the output guard checks the whole reply at the end), and
  the pipeline then gives the stream no guard at all.

``finish`` releases the rest when the stream ends. A match of a blocking category stops the
stream: ``feed`` raises ``GuardrailBlocked`` once, and the client's stream ends with that error.
"""

from __future__ import annotations

from schemas.errors import GuardrailBlocked
from streams.guards.content import ContentFilter
from streams.guards.redact import restore

__all__ = ["HOLD", "PLACEHOLDER_MAX", "StreamGuard"]

HOLD = 64
"""What a blocking content filter holds back, in characters."""
PLACEHOLDER_MAX = 32
"""Longer than any placeholder (``[CREDIT_CARD_12]``): an older unclosed ``[`` is not one."""


class StreamGuard:
    def __init__(self, content: ContentFilter | None, block: bool, placeholders: dict[str, str]) -> None:
        self._content = content
        self._block = block
        self._placeholders = placeholders
        self._held = ""
        self._hold = HOLD if content is not None and block else 0
        self.blocked: str | None = None  # the category that stopped the stream

    def feed(self, text: str) -> str:
        """What of the stream so far may go to the client now (placeholders restored)."""
        if self.blocked is not None:
            return ""
        self._held += text
        if self._content is not None and self._block:
            hits = self._content.check(self._held)
            if hits:
                self.blocked, self._held = hits[0].category, ""
                raise GuardrailBlocked(
                    f"The output guardrail `content` stopped the reply ({self.blocked}).", category=self.blocked
                )
        cut = len(self._held) - self._hold
        if self._placeholders and cut > 0:
            opened = self._held.rfind("[", max(0, cut - PLACEHOLDER_MAX), cut)
            if opened >= 0 and "]" not in self._held[opened:cut]:
                cut = opened  # a placeholder may be cut in two: keep it whole for the next round
        if cut <= 0:
            return ""
        out, self._held = self._held[:cut], self._held[cut:]
        return restore(out, self._placeholders)

    def reset(self) -> None:
        """Forget what was held: the attempt failed before anything reached the client."""
        self._held = ""

    def finish(self) -> str:
        """The rest, at the end of the stream."""
        out, self._held = self._held, ""
        return "" if self.blocked is not None else restore(out, self._placeholders)
