"""Turnout's error hierarchy. Every error a client can see is one of these, in OpenAI's shape.

    TurnoutError                      500 api_error
    ├── InvalidRequest                400 invalid_request_error
    │   ├── PayloadTooLarge           413 invalid_request_error
    │   ├── ContextWindowExceeded     400 invalid_request_error  (code context_length_exceeded)
    │   └── GuardrailBlocked          400 invalid_request_error  (code guardrail_blocked: names the guardrail)
    ├── AuthenticationFailed          401 authentication_error
    ├── PermissionDenied              403 permission_error
    │   └── KillSwitchActive          403 permission_error       (code kill_switch: an operator stopped this caller)
    ├── ModelNotFound                 404 invalid_request_error  (code model_not_found)
    ├── RateLimited                   429 rate_limit_error       (the gateway's own limits)
    │   └── BudgetExceeded            429 insufficient_quota     (code budget_exceeded: a spending budget is used up)
    ├── GatewayTimeout                504 timeout                (the request's deadline passed)
    ├── InvalidOutput                 502 upstream_error         (code invalid_output: not the JSON it promised)
    ├── ServiceUnavailable            503 service_unavailable    (Kafka or another part is down)
    │   ├── CircuitOpen               503 service_unavailable    (a deployment skipped: its breaker is open)
    │   └── AllDeploymentsFailed      503 service_unavailable    (every deployment of the route failed)
    └── ProviderError                 502 upstream_error         (retriable, trips the breaker)
        ├── ProviderRateLimited       429 rate_limit_error       (retriable, does not trip)
        ├── ProviderOverloaded        503 overloaded             (retriable, trips)
        ├── ProviderTimeout           504 timeout                (retriable, trips)
        ├── ProviderConnectionError   502 upstream_error         (retriable, trips)
        ├── ProviderStreamBroken      502 upstream_error         (retriable before the first chunk)
        ├── ProviderAuthError         502 upstream_error         (the gateway's provider key was refused)
        ├── ProviderBadRequest        400 invalid_request_error  (the request itself; not retriable)
        └── ProviderContentPolicy     400 invalid_request_error  (refused by the provider's content policy)

Behaviour lives in class attributes: ``status`` (HTTP), ``type`` (OpenAI's error type),
``retriable`` (another attempt may succeed), ``trips_breaker`` (counts against the deployment).
"""

from __future__ import annotations

from typing import Any

from schemas.events import ErrorInfo

__all__ = [
    "AllDeploymentsFailed",
    "AuthenticationFailed",
    "BudgetExceeded",
    "CircuitOpen",
    "ContextWindowExceeded",
    "GatewayTimeout",
    "GuardrailBlocked",
    "InvalidOutput",
    "InvalidRequest",
    "KillSwitchActive",
    "ModelNotFound",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderConnectionError",
    "ProviderContentPolicy",
    "ProviderError",
    "ProviderOverloaded",
    "ProviderRateLimited",
    "ProviderStreamBroken",
    "ProviderTimeout",
    "RateLimited",
    "ServiceUnavailable",
    "TurnoutError",
    "error_class_named",
    "openai_error_body",
]


class TurnoutError(Exception):
    status: int = 500
    type: str = "api_error"
    code: str | None = None
    retriable: bool = False
    trips_breaker: bool = False

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
        upstream_status: int | None = None,
        limit_kind: str | None = None,
        limit: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.retry_after_s = retry_after_s
        self.upstream_status = upstream_status  # the provider's own HTTP status, when it sent one
        self.limit_kind = limit_kind  # for the gateway's own rate limits: requests or tokens
        self.limit = limit

    def to_info(self) -> ErrorInfo:
        return ErrorInfo(
            status=self.status,
            type=self.type,
            message=self.message,
            code=self.code,
            param=self.param,
            error_class=type(self).__name__,
            retry_after_s=self.retry_after_s,
            limit_kind=self.limit_kind,
            limit=self.limit,
        )

    def to_openai(self) -> dict[str, object]:
        return openai_error_body(self.to_info())


def openai_error_body(info: ErrorInfo) -> dict[str, object]:
    """The JSON body OpenAI sends for an error."""
    return {"error": {"message": info.message, "type": info.type, "param": info.param, "code": info.code}}


class InvalidRequest(TurnoutError):
    status = 400
    type = "invalid_request_error"


class PayloadTooLarge(InvalidRequest):
    status = 413
    code = "payload_too_large"


class ContextWindowExceeded(InvalidRequest):
    code = "context_length_exceeded"


class GuardrailBlocked(InvalidRequest):
    code = "guardrail_blocked"

    def __init__(self, message: str, *, category: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.category = category  # what the guardrail found (never the text)


class InvalidOutput(TurnoutError):
    status = 502
    type = "upstream_error"
    code = "invalid_output"


class AuthenticationFailed(TurnoutError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(TurnoutError):
    status = 403
    type = "permission_error"


class KillSwitchActive(PermissionDenied):
    code = "kill_switch"


class NotFound(TurnoutError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class RateLimited(TurnoutError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceeded(RateLimited):
    type = "insufficient_quota"
    code = "budget_exceeded"


class GatewayTimeout(TurnoutError):
    status = 504
    type = "timeout"
    code = "gateway_timeout"


class ServiceUnavailable(TurnoutError):
    status = 503
    type = "service_unavailable"


class CircuitOpen(ServiceUnavailable):
    code = "circuit_open"


class AllDeploymentsFailed(ServiceUnavailable):
    code = "all_deployments_failed"


class ProviderError(TurnoutError):
    status = 502
    type = "upstream_error"
    retriable = True
    trips_breaker = True


class ProviderRateLimited(ProviderError):
    status = 429
    type = "rate_limit_error"
    trips_breaker = False


class ProviderOverloaded(ProviderError):
    status = 503
    type = "overloaded"


class ProviderTimeout(ProviderError):
    status = 504
    type = "timeout"


class ProviderConnectionError(ProviderError):
    pass


class ProviderStreamBroken(ProviderError):
    pass


class ProviderAuthError(ProviderError):
    retriable = False


class ProviderBadRequest(ProviderError):
    status = 400
    type = "invalid_request_error"
    retriable = False
    trips_breaker = False


class ProviderContentPolicy(ProviderError):
    status = 400
    type = "invalid_request_error"
    code = "content_policy_violation"
    retriable = False
    trips_breaker = False


def _all_subclasses(cls: type[TurnoutError]) -> list[type[TurnoutError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def error_class_named(name: str) -> type[TurnoutError]:
    """The error class whose ``__name__`` is ``name`` (TurnoutError if none is)."""
    for cls in _all_subclasses(TurnoutError):
        if cls.__name__ == name:
            return cls
    return TurnoutError
