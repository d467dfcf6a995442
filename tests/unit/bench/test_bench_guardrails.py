"""The guardrail measurement runs the real default guardrails on a 2 KB prompt."""

from __future__ import annotations

from bench.guardrails import measure, prompt_of
from schemas.config import GuardrailsConfig
from schemas.events import ChatMessage, ChatRequest
from streams.stages.input_guard import check_input


def test_the_prompt_is_2_kb_and_has_pii_the_guardrails_redact() -> None:
    text = prompt_of()
    assert len(text) == 2048
    checked = check_input(ChatRequest(model="m", messages=[ChatMessage(role="user", content=text)]), GuardrailsConfig())
    assert "pii:EMAIL" in checked.verdict.findings and "pii:PHONE" in checked.verdict.findings


def test_measure_reports_ordered_percentiles() -> None:
    result = measure(runs=20)
    assert result["runs"] == 20 and result["prompt_chars"] == 2048
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
