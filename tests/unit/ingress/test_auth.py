"""Virtual keys: the bearer token, and who a key belongs to (the example config's keys)."""

from __future__ import annotations

from pathlib import Path

import pytest

import schemas.config
from ingress.auth import KeyRing, bearer_token
from schemas.config import load_config
from schemas.errors import AuthenticationFailed
from schemas.events import Caller

EXAMPLE = Path(schemas.config.__file__).resolve().parents[1] / "config" / "turnout.yaml"


@pytest.fixture(scope="module")
def keyring() -> KeyRing:
    return KeyRing(load_config(EXAMPLE))


@pytest.mark.parametrize(
    ("authorization", "x_api_key", "expected"),
    [
        ("Bearer sk-turnout-demo", None, "sk-turnout-demo"),
        ("bearer sk-turnout-demo", None, "sk-turnout-demo"),
        ("BEARER   sk-turnout-demo  ", None, "sk-turnout-demo"),
        ("Bearer sk-a", "sk-b", "sk-a"),
        (None, "sk-b", "sk-b"),
        ("Basic dXNlcjpwYXNz", "sk-b", "sk-b"),
        ("Basic dXNlcjpwYXNz", None, None),
        ("Bearer ", None, None),
        ("Bearer", None, None),
        ("", "", None),
        (None, None, None),
    ],
)
def test_bearer_token(authorization: str | None, x_api_key: str | None, expected: str | None) -> None:
    assert bearer_token(authorization, x_api_key) == expected


@pytest.mark.parametrize(
    ("secret", "feature", "caller", "models"),
    [
        (
            "sk-turnout-demo",
            None,
            Caller(tenant="acme", team="platform", user="demo-user", tier="paid", key_id="demo"),
            None,
        ),
        (
            "sk-turnout-demo",
            "summarise",
            Caller(tenant="acme", team="platform", user="demo-user", tier="paid", key_id="demo", feature="summarise"),
            None,
        ),
        (
            "sk-turnout-team-b",
            None,
            Caller(tenant="globex", team="research", user="bob", tier="free", key_id="team-b"),
            ("best-cheap-chat",),
        ),
    ],
)
def test_a_known_key_is_its_caller(
    keyring: KeyRing, secret: str, feature: str | None, caller: Caller, models: tuple[str, ...] | None
) -> None:
    found, key = keyring.authenticate(secret, feature)
    assert found == caller
    assert key.id == caller.key_id
    assert key.models == models


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("sk-turnout-wrong", "Incorrect API key provided."),
        ("SK-TURNOUT-DEMO", "Incorrect API key provided."),
        ("24996f62273bc18d2cc7736b9198e156337aa26ca27b92b8bcf6fb6ac002275d", "Incorrect API key provided."),
        (None, "You didn't provide an API key."),
        ("", "You didn't provide an API key."),
    ],
)
def test_an_unknown_or_missing_key_is_refused(keyring: KeyRing, secret: str | None, message: str) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        keyring.authenticate(secret)
    assert caught.value.status == 401
    assert caught.value.to_openai() == {
        "error": {"message": message, "type": "authentication_error", "param": None, "code": "invalid_api_key"}
    }
