"""The shipped complexity model: loading, scoring, the threshold, and requests as the route stage holds them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.events import ChatMessage, ChatRequest
from streams.routing.classifier import (
    DEFAULT_MODEL_PATH,
    ComplexityModel,
    ModelFileError,
    message_text,
    request_messages,
    sigmoid,
)
from streams.routing.features import FEATURE_NAMES


@pytest.fixture(scope="module")
def model() -> ComplexityModel:
    return ComplexityModel.load()


def test_the_shipped_model_matches_the_features(model: ComplexityModel) -> None:
    assert model.feature_names == FEATURE_NAMES
    assert 0.0 < model.threshold < 1.0


@pytest.mark.parametrize(
    ("prompt", "complex_"),
    [
        ("Hi!", False),
        ("What's the capital of Chile?", False),
        ("Translate 'good evening' into French.", False),
        ("Prove that the sum of two odd numbers is even.", True),
        ("Find the bug:\n\ndef last(xs):\n    return xs[len(xs)]", True),
        ("Design a rate limiter for 20 API gateway nodes and explain what happens when Redis is down.", True),
    ],
)
def test_clear_cases(model: ComplexityModel, prompt: str, complex_: bool) -> None:
    messages = [("user", prompt)]
    score = model.score(messages)
    assert 0.0 <= score <= 1.0
    assert model.is_complex(messages) is complex_
    assert model.decide(messages).complex is complex_
    assert model.decide(messages).score == score


@pytest.mark.parametrize(("z", "expected"), [(0.0, 0.5), (800.0, 1.0), (-800.0, 0.0), (2.0, 0.8807970779778823)])
def test_sigmoid_is_stable(z: float, expected: float) -> None:
    assert sigmoid(z) == pytest.approx(expected)


def _shipped() -> dict[str, object]:
    data: dict[str, object] = json.loads(DEFAULT_MODEL_PATH.read_text())
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["weights"].pop("tools"), "trained on other features"),
        (lambda d: d["weights"].update({"extra": 1.0}), "trained on other features"),
        (lambda d: d.update({"format": 99}), "model format 99"),
        (lambda d: d.pop("bias"), "malformed"),
        (lambda d: d.update({"threshold": 1.5}), "outside"),
    ],
)
def test_a_model_file_for_other_features_is_refused(tmp_path: Path, change: object, message: str) -> None:
    data = _shipped()
    change(data)  # type: ignore[operator]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=message):
        ComplexityModel.load(path)


def test_an_unreadable_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot read"):
        ComplexityModel.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ModelFileError, match="cannot read"):
        ComplexityModel.load(tmp_path / "bad.json")


def test_round_trip(model: ComplexityModel) -> None:
    assert ComplexityModel.from_dict(model.to_dict()) == model


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (ChatMessage(role="user", content="hello"), "hello"),
        (
            ChatMessage(
                role="user", parts_json='[{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]'
            ),
            "a\n\nb",
        ),
        (ChatMessage(role="user", parts_json="not json"), ""),
        (ChatMessage(role="user", parts_json='{"type":"text"}'), ""),
        (ChatMessage(role="assistant"), ""),
    ],
)
def test_message_text(message: ChatMessage, text: str) -> None:
    assert message_text(message) == text


def test_decide_request_reads_messages_tools_and_max_tokens(model: ComplexityModel) -> None:
    messages = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Name a colour.")]
    request = ChatRequest(model="smart-chat", messages=messages, max_tokens=16, tools_json='[{"type":"function"}]')
    assert request_messages(request) == [("system", "Be brief."), ("user", "Name a colour.")]
    decision = model.decide_request(request)
    assert decision == model.decide(request_messages(request), tools=True, max_tokens=16)
    assert decision.complex is False


MODULES = ("streams.routing.features", "streams.routing.classifier", "streams.routing.train_complexity")


def test_the_package_is_pure_and_exports_what_it_names() -> None:
    code = (
        "import importlib, sys; "
        f"mods = [importlib.import_module(n) for n in {MODULES!r}]; "
        "missing = [n for m in mods for n in m.__all__ if not hasattr(m, n)]; "
        "loaded = sorted({n.split('.')[0] for n in sys.modules} & {'faust', 'httpx', 'redis'}); "
        "print(missing, loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"
