"""The ingress fuzzed from its own OpenAPI document (schemathesis, a bounded number of examples per
operation, valid and invalid bodies alike): never a 5xx, never a crash, every error in the API's
own shape (OpenAI's; Anthropic's on /v1/messages)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ingress.openapi import openapi_document
from schemas.config import TurnoutConfig
from tests.e2e.stacks import running_stack
from turnout.stack import Stack

SCHEMA = schemathesis.openapi.from_dict(openapi_document())
EXAMPLES = 30  # per operation and generation mode: bounded, so CI stays short


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    with running_stack(make_config, workers=1, gateway={"request_timeout_s": 10}) as run:
        yield run


def test_the_document_is_served_and_matches(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, _ = gateway
    served = httpx.get(stack.base_url.removesuffix("/v1") + "/openapi.json", timeout=10).json()
    assert served == openapi_document()


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_every_error_in_shape(case: Any, gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, _ = gateway
    headers = {"authorization": "Bearer sk-turnout-demo", **(case.headers or {})}
    response = case.call(base_url=stack.base_url.removesuffix("/v1"), headers=headers, timeout=30)
    assert response.status_code < 500, (case.path, case.body, response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        if case.path == "/v1/messages":
            assert body.get("type") == "error" and isinstance(body["error"]["message"], str), (
                response.status_code,
                body,
            )
        else:
            error = body["error"]
            assert isinstance(error["message"], str) and isinstance(error["type"], str), body
