"""Hypothesis over bearer tokens, against the application in process (test_fuzz_asgi.py's harness):
random strings and Authorization headers, genuine tokens truncated or garbled, `alg: none`, HMAC with
the public key, a wrong or odd `kid`, huge tokens, and tokens signed with the server's own key whose
claims are of any shape (a key holder's mistakes must not become 500s either).

A token that is not genuine must get Graph's 401 with its challenge; whatever the token, no answer is a
500 and every error is Graph's envelope. test_hostile_tokens.py checks the exact messages, case by case.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import assume, given
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import GRAPH_RESOURCE, issuer_for
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT
from tests.integration.test_fuzz_asgi import FUZZ, TASKS, InProcess, check_answer, close, in_process
from tests.integration.test_fuzz_strategies import json_values, scalars


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    target = in_process(tmp_path_factory.mktemp("fuzz-tokens"))
    yield target
    close(target)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: object, payload: object, signature: str = "") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{signature}"


_OWN_KID = object()


def signed(app: InProcess, payload: object, *, kid: object = _OWN_KID) -> str:
    """RS256 with the server's key over any payload and kid: PyJWT's encode refuses odd claims."""
    signing = app.backend.keys.signing
    header = {"alg": "RS256", "typ": "JWT", "kid": signing.kid if kid is _OWN_KID else kid}
    signing_input = unsigned(header, payload).rstrip(".")
    signature = RSA256.sign(signing_input.encode(), signing.private_key)
    return f"{signing_input}.{b64(signature)}"


RSA256 = RSAAlgorithm(RSAAlgorithm.SHA256)
# JSON numbers Python's json module reads (Infinity and NaN are not JSON, but PyJWT reads them).
ODD_NUMBERS = [float("inf"), float("-inf"), float("nan"), 1e300, -1e300, 2**64, 10**400, 0.5, -1]


def claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "aud": GRAPH_RESOURCE,
        "iss": issuer_for(DEFAULT_ISSUER, DEFAULT_TENANT),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": DEFAULT_TENANT,
        "azp": "2f6b6cd1-4a34-4ef3-9c3e-6a8a6c2e7d10",
        "oid": "2f6b6cd1-4a34-4ef3-9c3e-6a8a6c2e7d10",
        "roles": list(ALL_PERMISSIONS),
    }


@st.composite
def garbled(draw: st.DrawFn, token: str) -> str:
    """A genuine token cut short, with a character changed, a part dropped or repeated, or inflated."""
    at = draw(st.integers(0, len(token) - 1))
    head, payload, signature = token.split(".")
    return draw(
        st.sampled_from(
            [
                token[:at],
                token[:at] + draw(st.characters(max_codepoint=255)) + token[at + 1 :],
                f"{head}.{payload}",
                f"{head}.{payload}.{signature}.{signature}",
                f"{head}..{signature}",
                f"{payload}.{head}.{signature}",
                token * draw(st.integers(2, 8)),
                token + "A" * draw(st.sampled_from([1, 2, 3, 16 * 1024])),
                f"{head}.{payload}.{b64(b'x' * 256)}",
            ]
        )
    )


@st.composite
def forged(draw: st.DrawFn, app: InProcess) -> str:
    """Tokens made without the private key, or with it under the wrong header."""
    signing = app.backend.keys.signing
    body = {**claims(), **draw(st.dictionaries(st.sampled_from(list(claims())), scalars(), max_size=2))}
    public_pem = signing.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    choice = draw(st.integers(0, 4))
    if choice == 0:
        alg = draw(st.sampled_from(["none", "None", "NONE", "", "HS256", "RS512", "ES256"]))
        return unsigned({"alg": alg, "typ": "JWT", "kid": signing.kid}, body)
    if choice == 1:  # the public key as an HMAC secret (the classic key confusion)
        header = {"alg": "HS256", "typ": "JWT", "kid": signing.kid}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
        return f"{signing_input}.{b64(jwt.utils.base64url_decode(b64(public_pem)))}"
    if choice == 2:  # genuinely signed, under an odd kid
        kid = draw((scalars() | st.text(max_size=40)).filter(lambda k: k != signing.kid))
        return signed(app, body, kid=kid)
    if choice == 3:  # header of any shape over a genuine payload and signature
        genuine = signed(app, body)
        header = draw(json_values())
        return f"{b64(json.dumps(header).encode())}.{genuine.split('.', 1)[1]}"
    return unsigned(draw(json_values()), draw(json_values()), draw(st.text(max_size=20)))


@FUZZ
@given(data=st.data())
def test_hostile_tokens_are_401s(app: InProcess, data: st.DataObject) -> None:
    token = data.draw(st.one_of(garbled(app.token), forged(app), st.text(max_size=60)))
    assume(token.strip() != app.token)  # a garbled character may be the one it replaced
    method = data.draw(st.sampled_from(["GET", "POST"]))
    response = send_with(app, method, f"Bearer {token}")
    check_answer(response, "list_tasks" if method == "GET" else "create_task")
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer ")


@FUZZ
@given(
    header=st.one_of(
        st.text(max_size=40), st.sampled_from(["", "Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "bearer"])
    )
)
def test_authorization_headers_of_any_shape(app: InProcess, header: str) -> None:
    response = send_with(app, "GET", header)
    check_answer(response, "list_tasks")
    assert response.status_code == 401


@FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from([*claims(), "scp", "ver", "idtyp"]),
        json_values() | st.sampled_from(ODD_NUMBERS),
        min_size=1,
        max_size=3,
    )
)
def test_signed_tokens_with_claims_of_any_shape(app: InProcess, changes: dict[str, Any]) -> None:
    """Signed with the server's own key: the claims decide, and no shape of them is a 500."""
    response = send_with(app, "GET", f"Bearer {signed(app, {**claims(), **changes})}")
    check_answer(response, "list_tasks")


def send_with(app: InProcess, method: str, authorization: str) -> httpx.Response:
    """A request whose Authorization header is exactly `authorization` (Latin-1, as HTTP carries it)."""
    headers = [(b"Authorization", authorization.encode("latin-1", "replace"))]
    body = b'{"displayName": "t"}' if method == "POST" else None
    if body is not None:
        headers.append((b"Content-Type", b"application/json"))
    request = app.client.build_request(method, TASKS, headers=headers, content=body)
    return app.loop.run_until_complete(app.client.send(request))


def test_an_exp_too_large_for_a_float_is_a_valid_token_not_a_500(app: InProcess) -> None:
    """Found by fuzzing: `float(10**400)` raised OverflowError while the token was cached (a 500)."""
    response = send_with(app, "GET", f"Bearer {signed(app, {**claims(), 'exp': 10**400})}")
    check_answer(response, "list_tasks")
    assert response.status_code == 200
