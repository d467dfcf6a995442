"""Secrets: provider keys, PEM private keys and passwords, and the placeholders that are none of them.

Keys are put together from a prefix and a seeded random body here, so that no file holds a string
that secret scanners would take for a live credential.
"""

from __future__ import annotations

import random
import string

import pytest

from streams.guards.secrets import find_api_keys, find_passwords, find_private_keys, is_placeholder

ALNUM = string.ascii_letters + string.digits


def fake(prefix: str, length: int, alphabet: str = ALNUM) -> str:
    rnd = random.Random(f"{prefix}{length}")
    return prefix + "".join(rnd.choice(alphabet) for _ in range(length))


def keys(text: str) -> list[str]:
    return [f.value(text) for f in find_api_keys(text)]


def passwords(text: str) -> list[str]:
    return [f.value(text) for f in find_passwords(text)]


KEYS = {
    "openai": fake("sk-proj-", 48, ALNUM + "_-"),
    "openai-legacy": fake("sk-", 48),
    "anthropic": fake("sk-ant-api03-", 93, ALNUM + "_-"),
    "aws-key-id": fake("AKIA", 16, string.ascii_uppercase + string.digits),
    "github": fake("ghp_", 36),
    "github-fine-grained": fake("github_pat_", 82, ALNUM + "_"),
    "gitlab": fake("glpat-", 20),
    "slack": "xoxb-" + fake("", 12, string.digits) + "-" + fake("", 13, string.digits) + "-" + fake("", 24),
    "google": fake("AIza", 35, ALNUM + "_-"),
    "stripe": fake("rk_" + "live_", 24),
    "huggingface": fake("hf_", 34, string.ascii_letters),
    "sendgrid": fake("SG.", 22, ALNUM + "_-") + "." + fake("", 43, ALNUM + "_-"),
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + fake("", 43, ALNUM + "_-"),
}


@pytest.mark.parametrize("provider", sorted(KEYS))
def test_provider_keys(provider: str) -> None:
    key = KEYS[provider]
    assert keys(f"my key is {key} and it fails") == [key]


@pytest.mark.parametrize(
    ("template", "secret"),
    [
        ("aws_secret_access_key = {}", fake("", 40, ALNUM + "/+")),
        ("MY_AWS_SECRET_ACCESS_KEY={}", fake("", 40, ALNUM + "/+")),
        ("curl -H 'Authorization: Bearer {}' https://api", fake("", 40, ALNUM + "-_")),
        ("SLACK_SIGNING_SECRET={}", fake("", 32, "0123456789abcdef")),
        ('{{"api_key": "{}"}}', fake("", 32)),
    ],
)
def test_assigned_and_bearer_secrets(template: str, secret: str) -> None:
    assert keys(template.format(secret)) == [secret]


@pytest.mark.parametrize(
    "text",
    [
        "OPENAI_API_KEY=sk-your-key-here",
        "sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "AKIAIOSFODNN7EXAMPLE is the documented sample id",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "Authorization: Bearer YOUR_ACCESS_TOKEN_HERE",
        "Bearer <token> and Bearer $TOKEN",
        "pip install sk-learn-compatible-estimator-wrapper",
        "Our API keys start with the prefix 'tk_live_'.",
        "token: ${GITHUB_TOKEN}",
        "secret_key = settings.SECRET_KEY_FROM_ENVIRONMENT",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq8kV2mWcU5fJx3bN7tYpR0aLs9dE1gQ4hZ6oK2vXyM deploy@ci",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    ],
)
def test_not_keys(text: str) -> None:
    assert keys(text) == []


BODY = "\n".join(fake("", 64, ALNUM + "+/") for _ in range(3))


@pytest.mark.parametrize(
    "label",
    [
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
    ],
)
def test_whole_pem_blocks(label: str) -> None:
    block = f"-----BEGIN {label}-----\n{BODY}\n-----END {label}-----"
    text = f"this key fails:\n\n{block}\n\nwhy?"
    assert [f.value(text) for f in find_private_keys(text)] == [block]


def test_a_pem_block_in_a_json_string_and_one_cut_short() -> None:
    escaped = "-----BEGIN PRIVATE KEY-----\\n" + BODY.replace("\n", "\\n") + "\\n-----END PRIVATE KEY-----"
    text = '{"private_key": "' + escaped + '"}'
    assert [f.value(text) for f in find_private_keys(text)] == [escaped]
    cut = "-----BEGIN RSA PRIVATE KEY-----\n" + BODY
    assert [f.value(cut + "\n\nthat is all") for f in find_private_keys(cut + "\n\nthat is all")] == [cut]


@pytest.mark.parametrize(
    "text",
    [
        f"-----BEGIN PUBLIC KEY-----\n{BODY}\n-----END PUBLIC KEY-----",
        f"-----BEGIN CERTIFICATE-----\n{BODY}\n-----END CERTIFICATE-----",
    ],
)
def test_public_keys_and_certificates_are_not_secrets(text: str) -> None:
    assert list(find_private_keys(text)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DB_PASSWORD=Wint3r-Harbor-88", ["Wint3r-Harbor-88"]),
        ("export DB_PASSWORD=supersecret", ["supersecret"]),
        ("PGPASSWORD=Tr1cky.Otter psql -h db", ["Tr1cky.Otter"]),
        ('{"user": "ops", "pwd": "m4rble&Fern"}', ["m4rble&Fern"]),
        ("db:\n  PASSWORD: s3cretVal\n  user: app", ["s3cretVal"]),
        ("password=hunter2", ["hunter2"]),
        ("spring.datasource.password=Ledger-Moth-4471", ["Ledger-Moth-4471"]),
        ("postgresql://admin:S3cr3t-Kayak77@db.internal:5432/app", ["S3cr3t-Kayak77"]),
        ("redis://:Sup3r-S3cret@cache.local:6379/0", ["Sup3r-S3cret"]),
        ("docker login -u deploy -p 'Gl4cier#Pine-903' registry.acme.io", ["Gl4cier#Pine-903"]),
        ("mysql -u root -pS3cr3tPass! shop", ["S3cr3tPass!"]),
        ("docker login -u deploy -p hunter2 registry.acme.io", ["hunter2"]),
        ("tool --user bob --password=Secret12", ["Secret12"]),
        ("sshpass -p 'Tr0ub4dor&3' ssh deploy@host", ["Tr0ub4dor&3"]),
        ("My password for the staff portal is Blue!Otter-2291.", ["Blue!Otter-2291"]),
        ("the account has password Tulip$Rain2024! and it keeps getting locked", ["Tulip$Rain2024!"]),
        ("which wifi password I set, was it kestrel-Mango-51? It fails", ["kestrel-Mango-51"]),
        ("my password is hunter2", ["hunter2"]),
        ("The wifi password is sunflower88, tell the guests.", ["sunflower88"]),
    ],
)
def test_passwords(text: str, expected: list[str]) -> None:
    assert sorted(set(passwords(text))) == sorted(expected)


@pytest.mark.parametrize(
    "text",
    [
        "In my docker-compose file I have `password: ${DB_PASSWORD}`.",
        'POSTGRES_PASSWORD: "<your-password>" and REDIS_PASSWORD=********',
        "Sample config: password: changeme. Replace it.",
        "password = request.form['password']",
        "def login(user, password=None): return auth(user, password=password)",
        "password = new_password",
        "def f(password: str) -> None: ...",
        "Password: at least 12 characters and one digit",
        "Password requirements: at least 12 characters, one number and one symbol.",
        "the default admin password is printed on the label under the router.",
        "Where can I find the password reset instructions? I clicked 'Forgot password'.",
        "Use a password manager like 1Password or Bitwarden.",
        "re-enter their password at http://secure-verify.example/login right away",
        "The password expires on 2024-06-30T00:00:00Z, please rotate it.",
        "docker run -u 1000 -p 8080:80 nginx",
        "mysql -u root -p shop",
        "def is_strong(pw): return len(pw) >= 12 and any(c.isdigit() for c in pw)",
        "bypass=true and compass: north",
        "mysql://root:<password>@localhost/db",
    ],
)
def test_not_passwords(text: str) -> None:
    assert passwords(text) == []


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("", True),
        ("****", True),
        ("xxxxxxxx", True),
        ("<password>", True),
        ("${DB_PASSWORD}", True),
        ("{{ db_password }}", True),
        ("%(pw)s", True),
        ("$PASS", True),
        ("os.environ['PW']", True),
        ("changeme", True),
        ("CHANGEIT", True),
        ("your_password_here", True),
        ("None", True),
        ("hunter2", False),
        ("supersecret", False),
        ("MyPassword1!", False),
    ],
)
def test_placeholders(value: str, placeholder: bool) -> None:
    assert is_placeholder(value) is placeholder


def test_the_gate_characters_let_through_every_text_that_holds_a_needle() -> None:
    """The prefilter looks for each needle's rarest character before the needle itself: it must find
    exactly the rules that the plain search for the needles finds, in prose with and without them."""
    from streams.guards.secrets import _KEY_RULES, _holds_needle

    prose = "Summarise the quarterly report for the board; keep it short. Thanks! -- Ann (J.Q.)"
    texts = [prose, prose.upper(), "", "_-.", string.printable]
    texts += [f"{prose} {needle}" for rule in _KEY_RULES for needle in rule.needles]
    texts += [f"{needle}{prose}" for rule in _KEY_RULES for needle in rule.needles]
    for text in texts:
        lowered = text.lower()
        in_text: dict[str, bool] = {}
        in_lowered: dict[str, bool] = {}
        for rule in _KEY_RULES:
            haystack, chars = (lowered, in_lowered) if rule.fold else (text, in_text)
            assert rule.gates and all(g in n for g, n in zip(rule.gates, rule.needles, strict=True))
            assert _holds_needle(rule, haystack, chars) == any(n in haystack for n in rule.needles), (rule.name, text)
