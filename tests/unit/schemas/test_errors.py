"""The error hierarchy: each class's behaviour, OpenAI's error shape, and the module's public names."""

from __future__ import annotations

import inspect

import pytest

import schemas.errors
from schemas.errors import (
    AllDeploymentsFailed,
    AuthenticationFailed,
    BudgetExceeded,
    CircuitOpen,
    ContextWindowExceeded,
    GatewayTimeout,
    GuardrailBlocked,
    InvalidOutput,
    InvalidRequest,
    KillSwitchActive,
    ModelNotFound,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderConnectionError,
    ProviderContentPolicy,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderStreamBroken,
    ProviderTimeout,
    RateLimited,
    ServiceUnavailable,
    TurnoutError,
    error_class_named,
    openai_error_body,
)
from schemas.events import ErrorInfo

# class, parent, status, type, code, retriable, trips_breaker
BEHAVIOUR = [
    (TurnoutError, Exception, 500, "api_error", None, False, False),
    (InvalidRequest, TurnoutError, 400, "invalid_request_error", None, False, False),
    (PayloadTooLarge, InvalidRequest, 413, "invalid_request_error", "payload_too_large", False, False),
    (ContextWindowExceeded, InvalidRequest, 400, "invalid_request_error", "context_length_exceeded", False, False),
    (GuardrailBlocked, InvalidRequest, 400, "invalid_request_error", "guardrail_blocked", False, False),
    (InvalidOutput, TurnoutError, 502, "upstream_error", "invalid_output", False, False),
    (AuthenticationFailed, TurnoutError, 401, "authentication_error", "invalid_api_key", False, False),
    (PermissionDenied, TurnoutError, 403, "permission_error", None, False, False),
    (NotFound, TurnoutError, 404, "invalid_request_error", "not_found", False, False),
    (ModelNotFound, NotFound, 404, "invalid_request_error", "model_not_found", False, False),
    (KillSwitchActive, PermissionDenied, 403, "permission_error", "kill_switch", False, False),
    (RateLimited, TurnoutError, 429, "rate_limit_error", "rate_limit_exceeded", False, False),
    (BudgetExceeded, RateLimited, 429, "insufficient_quota", "budget_exceeded", False, False),
    (GatewayTimeout, TurnoutError, 504, "timeout", "gateway_timeout", False, False),
    (ServiceUnavailable, TurnoutError, 503, "service_unavailable", None, False, False),
    (CircuitOpen, ServiceUnavailable, 503, "service_unavailable", "circuit_open", False, False),
    (AllDeploymentsFailed, ServiceUnavailable, 503, "service_unavailable", "all_deployments_failed", False, False),
    (ProviderError, TurnoutError, 502, "upstream_error", None, True, True),
    (ProviderRateLimited, ProviderError, 429, "rate_limit_error", None, True, False),
    (ProviderOverloaded, ProviderError, 503, "overloaded", None, True, True),
    (ProviderTimeout, ProviderError, 504, "timeout", None, True, True),
    (ProviderConnectionError, ProviderError, 502, "upstream_error", None, True, True),
    (ProviderStreamBroken, ProviderError, 502, "upstream_error", None, True, True),
    (ProviderAuthError, ProviderError, 502, "upstream_error", None, False, True),
    (ProviderBadRequest, ProviderError, 400, "invalid_request_error", None, False, False),
    (ProviderContentPolicy, ProviderError, 400, "invalid_request_error", "content_policy_violation", False, False),
]


@pytest.mark.parametrize(("cls", "parent", "status", "type_", "code", "retriable", "trips"), BEHAVIOUR)
def test_each_error_class_says_how_it_behaves(
    cls: type[TurnoutError],
    parent: type[Exception],
    status: int,
    type_: str,
    code: str | None,
    retriable: bool,
    trips: bool,
) -> None:
    assert cls.__bases__ == (parent,)
    error = cls("something went wrong")
    assert (error.status, error.type, error.code, error.retriable, error.trips_breaker) == (
        status,
        type_,
        code,
        retriable,
        trips,
    )


def test_the_table_covers_every_error_class() -> None:
    def subclasses(cls: type) -> set[type]:
        found = {cls}
        sub: type
        for sub in cls.__subclasses__():
            found |= subclasses(sub)
        return found

    assert subclasses(TurnoutError) == {row[0] for row in BEHAVIOUR}


def test_the_docstring_tree_names_every_class() -> None:
    doc = schemas.errors.__doc__ or ""
    for cls, *_ in BEHAVIOUR:
        assert f"{cls.__name__} " in doc


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            InvalidRequest("'stop' is bad.", param="stop"),
            {"message": "'stop' is bad.", "type": "invalid_request_error", "param": "stop", "code": None},
        ),
        (
            ModelNotFound("The model `x` does not exist.", param="model"),
            {
                "message": "The model `x` does not exist.",
                "type": "invalid_request_error",
                "param": "model",
                "code": "model_not_found",
            },
        ),
        (
            AuthenticationFailed("Incorrect API key provided."),
            {
                "message": "Incorrect API key provided.",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_api_key",
            },
        ),
        (
            ProviderError("boom", code="server_error"),
            {"message": "boom", "type": "upstream_error", "param": None, "code": "server_error"},
        ),
    ],
)
def test_to_openai_is_openais_error_shape(error: TurnoutError, expected: dict[str, object]) -> None:
    assert error.to_openai() == {"error": expected}


def test_a_code_given_to_one_instance_does_not_change_the_class() -> None:
    error = ModelNotFound("gone", code="deployment_gone")
    assert error.code == "deployment_gone"
    assert ModelNotFound("gone").code == "model_not_found"


def test_to_info_carries_everything_the_reply_needs() -> None:
    error = ProviderRateLimited("slow down", param="model", retry_after_s=2.5)
    assert error.to_info() == ErrorInfo(
        status=429,
        type="rate_limit_error",
        message="slow down",
        code=None,
        param="model",
        error_class="ProviderRateLimited",
        retry_after_s=2.5,
    )
    assert str(error) == "slow down"


def test_openai_error_body_from_an_info() -> None:
    info = ErrorInfo(status=504, type="timeout", message="late", code="gateway_timeout", error_class="GatewayTimeout")
    assert openai_error_body(info) == {
        "error": {"message": "late", "type": "timeout", "param": None, "code": "gateway_timeout"}
    }


@pytest.mark.parametrize("cls", [row[0] for row in BEHAVIOUR])
def test_error_class_named_finds_every_class(cls: type[TurnoutError]) -> None:
    assert error_class_named(cls.__name__) is cls


@pytest.mark.parametrize("name", ["", "ValueError", "Exception", "NoSuchError"])
def test_error_class_named_falls_back_to_turnout_error(name: str) -> None:
    assert error_class_named(name) is TurnoutError


def test_all_lists_exactly_the_public_names_defined_here() -> None:
    defined = {
        name
        for name, value in vars(schemas.errors).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == schemas.errors.__name__
    }
    assert sorted(schemas.errors.__all__) == sorted(defined)
    assert len(set(schemas.errors.__all__)) == len(schemas.errors.__all__)
