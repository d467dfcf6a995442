"""The cache controls a caller sends in headers, and the headers a reply carries."""

from __future__ import annotations

import pytest

from ingress.cache_headers import cache_control_from_headers, cache_reply_headers
from schemas.errors import InvalidRequest
from schemas.events import CacheControl, CacheVerdict


@pytest.mark.parametrize(
    ("headers", "control"),
    [
        ({}, None),
        ({"cache-control": "max-age=0, no-transform"}, CacheControl(max_age_s=0)),
        ({"cache-control": "no-cache"}, CacheControl(lookup=False)),
        ({"cache-control": "No-Store"}, CacheControl(store=False)),
        ({"cache-control": 'no-cache, no-store, max-age="30"'}, CacheControl(lookup=False, store=False, max_age_s=30)),
        ({"x-turnout-cache": "off"}, CacheControl(lookup=False, store=False)),
        ({"x-turnout-cache": "refresh"}, CacheControl(lookup=False)),
        ({"x-turnout-cache": "no-store"}, CacheControl(store=False)),
        ({"x-turnout-cache": "on"}, None),
        ({"x-turnout-cache": "on", "cache-control": "no-store"}, CacheControl(store=False)),  # either may refuse
        ({"x-turnout-cache-threshold": "0.9"}, CacheControl(threshold=0.9)),
        ({"x-turnout-cache-namespace": "faq:v2"}, CacheControl(namespace="faq:v2")),
        ({"x-turnout-cache-ttl": "60"}, CacheControl(ttl_s=60)),
    ],
)
def test_controls_from_headers(headers: dict[str, str], control: CacheControl | None) -> None:
    assert cache_control_from_headers(headers) == control


@pytest.mark.parametrize(
    ("headers", "param"),
    [
        ({"cache-control": "max-age=soon"}, "cache-control"),
        ({"cache-control": "max-age=-1"}, "cache-control"),
        ({"x-turnout-cache": "sometimes"}, "x-turnout-cache"),
        ({"x-turnout-cache-threshold": "2"}, "x-turnout-cache-threshold"),
        ({"x-turnout-cache-threshold": "0"}, "x-turnout-cache-threshold"),
        ({"x-turnout-cache-threshold": "nan"}, "x-turnout-cache-threshold"),
        ({"x-turnout-cache-threshold": "high"}, "x-turnout-cache-threshold"),
        ({"x-turnout-cache-namespace": "a b"}, "x-turnout-cache-namespace"),
        ({"x-turnout-cache-namespace": "x" * 65}, "x-turnout-cache-namespace"),
        ({"x-turnout-cache-ttl": "0"}, "x-turnout-cache-ttl"),
        ({"x-turnout-cache-ttl": "1.5"}, "x-turnout-cache-ttl"),
    ],
)
def test_a_bad_header_is_a_400_naming_it(headers: dict[str, str], param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        cache_control_from_headers(headers)
    assert err.value.status == 400 and err.value.param == param


def test_reply_headers() -> None:
    assert cache_reply_headers(None) == {}
    hit = CacheVerdict("hit", similarity=0.91234, kind="semantic", entry="e-1", age_s=12.7)
    assert cache_reply_headers(hit) == {
        "x-turnout-cache": "hit",
        "x-turnout-cache-kind": "semantic",
        "x-turnout-cache-entry": "e-1",
        "x-turnout-cache-similarity": "0.9123",
        "age": "12",
    }
    miss = CacheVerdict("miss", similarity=0.85, reason="guard: numbers")
    assert cache_reply_headers(miss) == {
        "x-turnout-cache": "miss",
        "x-turnout-cache-reason": "guard: numbers",
        "x-turnout-cache-similarity": "0.8500",
    }
    assert cache_reply_headers(CacheVerdict("skip", reason="off")) == {
        "x-turnout-cache": "skip",
        "x-turnout-cache-reason": "off",
    }
