"""Knob parsing, header and model-name conventions, merging."""

from __future__ import annotations

import pytest

from simulator.knobs import (
    BROKEN_STREAM_MODEL_CHUNKS,
    KNOB_HEADERS,
    KNOB_NAMES,
    KnobError,
    Knobs,
    knobs_from_headers,
    knobs_from_model_name,
)


def test_every_knob_has_a_header_and_a_field() -> None:
    assert set(KNOB_NAMES) == set(Knobs.__dataclass_fields__)
    assert KNOB_HEADERS["x-sim-break-after-chunks"] == "break_after_chunks"
    assert len(KNOB_HEADERS) == len(KNOB_NAMES)


def test_from_mapping_parses_and_types_values() -> None:
    knobs = Knobs.from_mapping({"latency_ms": 10, "error_status": "429", "hang": "yes", "reply": "hi"})
    assert knobs == Knobs(latency_ms=10.0, error_status=429, hang=True, reply="hi")
    assert knobs.to_dict() == {"latency_ms": 10.0, "error_status": 429, "hang": True, "reply": "hi"}


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"unknown": 1}, "knobs.unknown"),
        ({"latency_ms": -1}, "knobs.latency_ms"),
        ({"latency_ms": True}, "knobs.latency_ms"),
        ({"error_status": 200}, "knobs.error_status"),
        ({"break_after_chunks": 1.5}, "knobs.break_after_chunks"),
        ({"hang": "maybe"}, "knobs.hang"),
        ({"reply": 3}, "knobs.reply"),
    ],
)
def test_from_mapping_rejects_bad_values(data: dict[str, object], param: str) -> None:
    with pytest.raises(KnobError) as caught:
        Knobs.from_mapping(data)
    assert caught.value.param == param


def test_null_values_are_unset() -> None:
    assert Knobs.from_mapping({"latency_ms": None}) == Knobs()


def test_headers() -> None:
    knobs = knobs_from_headers(
        {
            "x-sim-latency-ms": "12.5",
            "x-sim-error-status": "503",
            "x-sim-retry-after-s": "2",
            "x-sim-hang": "0",
            "x-sim-tool-arguments": '{"a": 1}',
            "x-other": "ignored",
        }
    )
    assert knobs == Knobs(latency_ms=12.5, error_status=503, retry_after_s=2.0, hang=False, tool_arguments='{"a": 1}')
    assert knobs_from_headers({}) == Knobs()


def test_bad_header_names_the_header() -> None:
    with pytest.raises(KnobError) as caught:
        knobs_from_headers({"x-sim-chunk-interval-ms": "fast"})
    assert caught.value.param == "x-sim-chunk-interval-ms"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("sim-error-429", Knobs(error_status=429)),
        ("sim-error-500", Knobs(error_status=500)),
        ("sim-error-503", Knobs(error_status=503)),
        ("sim-slow-250", Knobs(latency_ms=250.0)),
        ("sim-hang", Knobs(hang=True)),
        ("sim-broken-stream", Knobs(break_after_chunks=BROKEN_STREAM_MODEL_CHUNKS)),
        ("sim-error-200", Knobs()),
        ("sim-slow-x", Knobs()),
        ("gpt-4o", Knobs()),
    ],
)
def test_model_name_conventions(model: str, expected: Knobs) -> None:
    assert knobs_from_model_name(model) == expected


def test_merge_overrides_only_set_fields() -> None:
    low = Knobs(latency_ms=5, error_status=500, reply="low")
    high = Knobs(error_status=429, reply=None)
    assert low.merged(high) == Knobs(latency_ms=5, error_status=429, reply="low")
    assert low.merged(Knobs()) is low
