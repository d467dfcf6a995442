"""The generated converters between events and the dicts fastavro reads and writes (schemas/codec.py):
nested, optional and listed dataclasses, values passed as they are, and a record without a field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.codec import from_record, to_record


@dataclass(frozen=True, slots=True)
class Inner:
    name: str
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Outer:
    inner: Inner
    maybe: Inner | None
    many: list[Inner]
    tags: list[str]
    labels: dict[str, str]
    grid: list[list[float]]
    anything: Any = None
    kept: tuple[int, ...] = ()
    added_later: list[Inner] = field(default_factory=list)


OUTER = Outer(
    inner=Inner("a", 1.5),
    maybe=None,
    many=[Inner("b"), Inner("c", 0.25)],
    tags=["x", "y"],
    labels={"k": "v"},
    grid=[[1.0, 2.0], [3.0]],
    anything=Inner("d"),
    kept=(1, 2),
)
AS_DICT = {
    "inner": {"name": "a", "score": 1.5},
    "maybe": None,
    "many": [{"name": "b", "score": None}, {"name": "c", "score": 0.25}],
    "tags": ["x", "y"],
    "labels": {"k": "v"},
    "grid": [[1.0, 2.0], [3.0]],
    "anything": {"name": "d", "score": None},
    "kept": (1, 2),
    "added_later": [],
}


def test_a_dataclass_becomes_plain_dicts_and_lists() -> None:
    assert to_record(OUTER) == AS_DICT
    assert to_record([Inner("e")]) == [{"name": "e", "score": None}]
    assert to_record("plain") == "plain"


def test_plain_dicts_and_lists_become_the_dataclass_again() -> None:
    record = {**AS_DICT, "anything": "whatever fastavro read", "maybe": {"name": "m", "score": None}}
    decoded = from_record(Outer, record)
    assert decoded.maybe == Inner("m") and decoded.many == OUTER.many and decoded.inner == OUTER.inner
    assert decoded.anything == "whatever fastavro read"  # an Any field is left as it came


def test_a_record_without_a_field_gets_the_field_s_default() -> None:
    record = {k: v for k, v in AS_DICT.items() if k not in ("added_later", "kept")}
    decoded = from_record(Outer, record)
    assert decoded.added_later == [] and decoded.kept == ()
    assert decoded.many == OUTER.many  # the rest is decoded as usual
