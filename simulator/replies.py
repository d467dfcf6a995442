"""Deterministic reply text and token counting, independent of any wire format.

Token counting is a cheap, deterministic stand-in for a tokenizer:

- ``prompt_tokens`` = sum over messages of ``4 + ceil(len(text) / 4)``, where a
  message's text is its text content (text parts joined with a space) plus the
  name and arguments of any tool calls it carries;
- ``completion_tokens`` = number of whitespace-separated words in the reply
  content, plus ``10 + ceil(len(arguments) / 4)`` per tool call.

The default reply is ``"Simulated reply from {model}: "`` followed by the words
of the last user message, the whole reply capped at ``word_cap`` (64) words.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import orjson

from simulator.knobs import Knobs

FinishReason = Literal["stop", "length", "tool_calls"]
DEFAULT_WORD_CAP = 64
MESSAGE_OVERHEAD_TOKENS = 4
TOOL_CALL_OVERHEAD_TOKENS = 10

_WORD_WITH_SPACE = re.compile(r"\S+\s*")


@dataclass(frozen=True, slots=True)
class ReplyRequest:
    """What a wire module extracts from a request to decide the reply."""

    model: str
    last_user_text: str
    message_texts: Sequence[str]
    max_words: int | None = None
    json_mode: bool = False
    tool_name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A wire-neutral reply: either text content or a single tool call."""

    content: str | None
    tool_call: ToolCall | None
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def count_words(text: str) -> int:
    return len(text.split())


def truncate_words(text: str, max_words: int) -> tuple[str, bool]:
    """Keep the first ``max_words`` words; return the text and whether it was cut."""
    words = text.split()
    if len(words) <= max_words:
        return text, False
    return " ".join(words[:max_words]), True


def default_reply_text(model: str, last_user_text: str, word_cap: int = DEFAULT_WORD_CAP) -> str:
    words = f"Simulated reply from {model}: {last_user_text}".split()
    return " ".join(words[:word_cap])


def prompt_tokens(message_texts: Sequence[str]) -> int:
    return sum(MESSAGE_OVERHEAD_TOKENS + math.ceil(len(text) / 4) for text in message_texts)


def tool_call_tokens(arguments: str) -> int:
    return TOOL_CALL_OVERHEAD_TOKENS + math.ceil(len(arguments) / 4)


def json_reply(text: str) -> str:
    """The JSON-mode content: a JSON object string ``{"reply": text}``."""
    return orjson.dumps({"reply": text}).decode()


def new_id(prefix: str, nbytes: int = 12) -> str:
    return prefix + os.urandom(nbytes).hex()


def build_reply(request: ReplyRequest, knobs: Knobs, word_cap: int = DEFAULT_WORD_CAP) -> Reply:
    """Decide the reply for ``request`` under ``knobs`` (deterministic except ids)."""
    prompt = prompt_tokens(request.message_texts)
    if knobs.prompt_tokens is not None:
        prompt = knobs.prompt_tokens
    if request.tool_name is not None:
        arguments = knobs.tool_arguments if knobs.tool_arguments is not None else "{}"
        call = ToolCall(new_id("call_"), request.tool_name, arguments)
        completion = tool_call_tokens(arguments)
        return Reply(None, call, "tool_calls", prompt, _override(completion, knobs))
    text = (
        knobs.reply if knobs.reply is not None else default_reply_text(request.model, request.last_user_text, word_cap)
    )
    finish: FinishReason = "stop"
    if request.max_words is not None:
        text, cut = truncate_words(text, request.max_words)
        finish = "length" if cut else "stop"
    content = json_reply(text) if request.json_mode else text
    return Reply(content, None, finish, prompt, _override(count_words(content), knobs))


def _override(completion: int, knobs: Knobs) -> int:
    return knobs.completion_tokens if knobs.completion_tokens is not None else completion


def split_text(text: str, words_per_piece: int) -> list[str]:
    """Split ``text`` into pieces of a few words; ``"".join(pieces) == text``."""
    tokens = _WORD_WITH_SPACE.findall(text)
    lead = text[: len(text) - len(text.lstrip())]
    if tokens:
        tokens[0] = lead + tokens[0]
    step = max(1, words_per_piece)
    pieces = ["".join(tokens[i : i + step]) for i in range(0, len(tokens), step)]
    return pieces or ([text] if text else [])


def split_even(text: str, pieces: int) -> list[str]:
    """Split ``text`` into at most ``pieces`` consecutive slices of similar size."""
    if not text:
        return []
    size = max(1, math.ceil(len(text) / max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)]
