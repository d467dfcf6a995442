"""Feedback bodies: what is accepted, and the 400 for what is not."""

from __future__ import annotations

from typing import Any

import pytest

from ingress.feedback import parse_feedback
from schemas.errors import InvalidRequest
from schemas.events import Caller

CALLER = Caller(tenant="acme", team="t", user="ann", tier="paid", key_id="demo")


def test_a_rating_is_the_callers() -> None:
    rating = parse_feedback({"request_id": "abc123", "score": 1, "comment": "spot on", "id": "fb-7"}, CALLER, 42)
    assert (rating.request_id, rating.score, rating.comment, rating.feedback_id) == ("abc123", 1.0, "spot on", "fb-7")
    assert (rating.tenant, rating.key_id, rating.user, rating.at_us) == ("acme", "demo", "ann", 42)
    first, second = (parse_feedback({"request_id": "abc123", "score": 0.5}, CALLER, 1) for _ in range(2))
    assert first.feedback_id != second.feedback_id  # without an id, two POSTs are two ratings


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"score": 1}, "request_id"),
        ({"request_id": "a'; DROP TABLE x; --", "score": 1}, "request_id"),
        ({"request_id": "abc"}, "score"),
        ({"request_id": "abc", "score": 1.5}, "score"),
        ({"request_id": "abc", "score": -0.1}, "score"),
        ({"request_id": "abc", "score": True}, "score"),
        ({"request_id": "abc", "score": "5"}, "score"),
        ({"request_id": "abc", "score": 1, "comment": 3}, "comment"),
        ({"request_id": "abc", "score": 1, "comment": "x" * 4001}, "comment"),
        ({"request_id": "abc", "score": 1, "id": ""}, "id"),
        ({"request_id": "abc", "score": 1, "rating": 5}, "rating"),
    ],
)
def test_bad_bodies_are_400s(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_feedback(body, CALLER, 0)
    assert err.value.status == 400 and err.value.param == param


def test_the_body_must_be_an_object() -> None:
    with pytest.raises(InvalidRequest):
        parse_feedback([1, 2], CALLER, 0)
