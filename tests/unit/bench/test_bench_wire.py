"""The load generator's wire handling: request bytes, response heads, SSE bodies, targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.clients import PreparedRequest, StreamWatcher, _outcome, _parse_head, make_client
from bench.loadgen import load_targets
from bench.plan import full_plan, quick_plan
from bench.workload import BODY_BYTES, System, chat_body, target_id, write_targets


def chunk(content: str | None, role: str | None = None) -> bytes:
    delta: dict[str, str] = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}).encode() + b"\n\n"


def test_request_bytes_are_built_once() -> None:
    request = PreparedRequest(
        "t", "http://127.0.0.1:8080/v1/chat/completions", {"Authorization": "Bearer k"}, b"{}", False
    )
    assert (request.host, request.port, request.path) == ("127.0.0.1", 8080, "/v1/chat/completions")
    head, body = request.wire.split(b"\r\n\r\n")
    assert body == b"{}"
    assert head.split(b"\r\n") == [
        b"POST /v1/chat/completions HTTP/1.1",
        b"Host: 127.0.0.1:8080",
        b"Content-Type: application/json",
        b"Content-Length: 2",
        b"Authorization: Bearer k",
    ]


def test_only_plain_http() -> None:
    with pytest.raises(ValueError, match="http://"):
        PreparedRequest("t", "https://example.com/v1", {}, b"", False)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n", (200, 12, False, True, None)),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", (200, None, True, True, None)),
        (
            b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
            (504, 3, False, False, None),
        ),
        (b"HTTP/1.0 200 OK\r\n\r\n", (200, None, False, False, None)),
        (b"HTTP/1.1 503 Service Unavailable\r\nX-Request-Id: req-1 \r\n\r\n", (503, None, False, True, "req-1")),
    ],
)
def test_response_heads(head: bytes, expected: tuple[int, int | None, bool, bool, str | None]) -> None:
    assert _parse_head(head) == expected


def test_not_http() -> None:
    with pytest.raises(ValueError, match="HTTP"):
        _parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_first_content_chunk_not_the_role_chunk() -> None:
    watcher = StreamWatcher()
    watcher.feed(chunk("", role="assistant"))
    assert watcher.first_content_at is None
    body = chunk("Hello") + chunk(" world") + b"data: [DONE]\n\n"
    watcher.feed(body[:17])  # events split anywhere
    assert watcher.first_content_at is None
    watcher.feed(body[17:])
    assert watcher.first_content_at is not None
    assert watcher.done and not watcher.errored


def test_crlf_events_and_error_events() -> None:
    watcher = StreamWatcher()
    watcher.feed(chunk("Hi").replace(b"\n", b"\r\n") + b'data: {"error": {"message": "boom"}}\r\n\r\n')
    assert watcher.first_content_at is not None
    assert watcher.errored and not watcher.done


def test_outcomes() -> None:
    assert _outcome(200, b'{"choices": []}', None, 1.0, 1.5).ok
    assert _outcome(200, b"{}", None, 1.0, 1.5).error == "bad_body"
    assert _outcome(429, b"{}", None, 1.0, 1.5).error == "http_429"
    cut = StreamWatcher()
    cut.feed(chunk("Hi"))
    assert _outcome(200, b"", cut, 0.0, 1.0).error == "stream_cut"
    empty = StreamWatcher()
    empty.feed(b"data: [DONE]\n\n")
    assert _outcome(200, b"", empty, 0.0, 1.0).error == "no_content"
    good = StreamWatcher()
    good.feed(chunk("Hi") + b"data: [DONE]\n\n")
    outcome = _outcome(200, b"", good, 0.0, 1.0)
    assert outcome.ok and outcome.ttft_s is not None and outcome.latency_s == 1.0
    assert outcome.request_id is None


def test_outcomes_carry_the_request_id_good_or_not() -> None:
    assert _outcome(200, b'{"choices": []}', None, 1.0, 1.5, "r1").request_id == "r1"
    failed = _outcome(503, b"{}", None, 1.0, 1.5, "r2")
    assert (failed.ok, failed.error, failed.request_id) == (False, "http_503", "r2")


def test_clients_by_name() -> None:
    assert make_client("raw", 5.0, 10).name == "raw"
    with pytest.raises(ValueError, match="unknown client"):
        make_client("curl", 5.0, 10)


def test_request_body_is_about_2_kb_for_every_target() -> None:
    reference = json.dumps(chat_body("sim-slow-0", False))
    assert len(reference) == BODY_BYTES
    for model in ("sim-slow-60", "bench-0ms", "bench-60ms"):
        for stream in (False, True):
            assert abs(len(json.dumps(chat_body(model, stream))) - BODY_BYTES) < 32
    assert chat_body("m", True)["stream"] is True
    assert "stream" not in chat_body("m", False)


def test_target_catalogue(tmp_path: Path) -> None:
    systems = [
        System("direct", "http://127.0.0.1:1/v1", "k", direct=True),
        System("turnout-fused", "http://127.0.0.1:2/v1", "sk-turnout-demo"),
    ]
    catalogue = write_targets(tmp_path / "targets.json", systems, (0, 60))
    assert len(catalogue) == 8
    direct = catalogue[target_id("direct", 60, True)]
    assert json.loads(direct["body"])["model"] == "sim-slow-60"
    assert direct["stream"] is True
    fused = catalogue[target_id("turnout-fused", 0, False)]
    assert json.loads(fused["body"])["model"] == "bench-0ms"
    assert fused["url"] == "http://127.0.0.1:2/v1/chat/completions"
    assert fused["headers"] == {"Authorization": "Bearer sk-turnout-demo"}
    loaded = load_targets(tmp_path / "targets.json")
    assert loaded["turnout-fused@0ms"].port == 2
    assert loaded["direct@60ms/stream"].stream


def test_plans() -> None:
    quick, full = quick_plan(), full_plan()
    assert quick.litellm_workers == (1,)
    assert 1 in full.litellm_workers
    assert quick.sequential_rounds < full.sequential_rounds
    assert full.with_overrides(open_rate=7.0, client=None).open_rate == 7.0
    assert full.with_overrides(client=None).client == "raw"
    assert quick.to_dict()["mode"] == "quick"
    assert quick.fault_systems == ("turnout-fused",)
    assert 3 * quick.fault_third_s <= 15
    assert set(full.fault_systems) == {"turnout-fused", "turnout-split"}
    assert full.fault_third_s >= quick.fault_third_s
    assert quick.load_warmup_s == 0 and full.load_warmup_s >= 10  # the broker warm before the reporting run's cells


def test_extra_targets_join_the_catalogue(tmp_path: Path) -> None:
    systems = [System("turnout-fused", "http://127.0.0.1:2/v1", "sk-turnout-demo")]
    extra = {"turnout-fused@60ms/fault": {"url": "http://127.0.0.1:2/v1/chat/completions", "body": "{}"}}
    catalogue = write_targets(tmp_path / "targets.json", systems, (60,), extra)
    assert len(catalogue) == 3
    assert load_targets(tmp_path / "targets.json")["turnout-fused@60ms/fault"].body == b"{}"
