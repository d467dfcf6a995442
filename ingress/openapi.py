"""The ingress's OpenAPI 3.1 document, served at ``GET /openapi.json``.

Written by hand from what the parsers in this package accept (``openai_request``, ``anthropic_request``,
``feedback``, ``extensions``), so that a client generator or a fuzzer sees the same contract the
gateway enforces; ``tests/e2e/test_fuzz.py`` drives the running gateway from it with schemathesis.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_ANTHROPIC_ERROR = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {"type": "object", "required": ["type", "message"]},
    },
}
_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
}
_TURNOUT = {
    "type": "object",
    "description": "Turnout's own fields; never sent to a provider.",
    "additionalProperties": False,
    "properties": {
        "context": {
            "type": "array",
            "maxItems": 64,
            "description": "Retrieved chunks the answer is checked against (faithfulness).",
            "items": {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {
                        "type": "object",
                        "required": ["text"],
                        "properties": {"text": {"type": "string", "minLength": 1}},
                    },
                ]
            },
        }
    },
}
_CHAT_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": _TEXT_PART}, {"type": "null"}]},
        "name": {"type": "string"},
        "tool_call_id": {"type": "string"},
    },
}
_CHAT_REQUEST = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string", "description": "A logical model of the gateway's config."},
        "messages": {"type": "array", "minItems": 1, "items": _CHAT_MESSAGE},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "n": {"const": 1},
        "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]},
        "seed": {"type": "integer"},
        "user": {"type": "string"},
        "response_format": {"type": "object"},
        "turnout": _TURNOUT,
    },
}
_COMPLETION = {
    "type": "object",
    "required": ["id", "object", "created", "model", "choices"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "chat.completion"},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "choices": {"type": "array"},
        "usage": {"type": "object"},
    },
}
_MESSAGES_REQUEST = {
    "type": "object",
    "required": ["model", "max_tokens", "messages"],
    "properties": {
        "model": {"type": "string"},
        "max_tokens": {"type": "integer", "minimum": 1},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"enum": ["user", "assistant"]},
                    "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": _TEXT_PART}]},
                },
            },
        },
        "system": {"oneOf": [{"type": "string"}, {"type": "array", "items": _TEXT_PART}]},
        "stream": {"type": "boolean"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
        "turnout": _TURNOUT,
    },
}
_EMBEDDINGS_REQUEST = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string"},
        "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
        "encoding_format": {"enum": ["float", "base64"]},
        "dimensions": {"type": "integer", "minimum": 1},
        "user": {"type": "string"},
    },
}
_FEEDBACK_REQUEST = {
    "type": "object",
    "required": ["request_id", "score"],
    "additionalProperties": False,
    "properties": {
        "request_id": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "comment": {"type": "string", "maxLength": 4000},
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"},
    },
}


def _errors(shape: dict[str, Any], *statuses: int) -> dict[str, Any]:
    described = {
        400: "Invalid request",
        401: "Missing or unknown key",
        403: "Not allowed, or stopped by a kill switch",
        404: "Unknown model or request",
        413: "Body too large",
        429: "Rate limit or budget",
        502: "Provider error",
        503: "A dependency is unavailable",
        504: "No answer before the deadline",
    }
    return {str(s): {"description": described[s], "content": {"application/json": {"schema": shape}}} for s in statuses}


def _operation(summary: str, request: dict[str, Any], ok: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"bearer": []}, {"apiKey": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
        "responses": {"200": ok, **_errors(error, 400, 401, 403, 404, 413, 429, 502, 503, 504)},
    }


def openapi_document() -> dict[str, Any]:
    json_ok = {"description": "The answer", "content": {"application/json": {"schema": {"type": "object"}}}}
    chat_ok = {
        "description": "The completion, or Server-Sent Events with stream: true",
        "content": {"application/json": {"schema": _COMPLETION}, "text/event-stream": {"schema": {"type": "string"}}},
    }
    messages_ok = {
        "description": "The message, or Server-Sent Events with stream: true",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/event-stream": {"schema": {"type": "string"}},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Turnout", "version": "0.1.0", "description": "One OpenAI- and Anthropic-compatible API."},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            }
        },
        "paths": {
            "/v1/chat/completions": {"post": _operation("Chat completion (OpenAI)", _CHAT_REQUEST, chat_ok, _ERROR)},
            "/v1/messages": {
                "post": _operation("Message (Anthropic)", _MESSAGES_REQUEST, messages_ok, _ANTHROPIC_ERROR)
            },
            "/v1/embeddings": {"post": _operation("Embeddings (OpenAI)", _EMBEDDINGS_REQUEST, json_ok, _ERROR)},
            "/v1/feedback": {"post": _operation("Rate one of your requests", _FEEDBACK_REQUEST, json_ok, _ERROR)},
            "/v1/models": {
                "get": {
                    "summary": "The logical models this key may use",
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "responses": {"200": json_ok, **_errors(_ERROR, 401)},
                }
            },
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": json_ok}}},
            "/readyz": {
                "get": {
                    "summary": "Readiness: Kafka answers, and the request and reply topics have leaders",
                    "responses": {"200": json_ok, "503": {"description": "Not ready; the body names why"}},
                }
            },
        },
    }
