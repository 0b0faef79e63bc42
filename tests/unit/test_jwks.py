"""graphtasks.auth.jwks (a trusted issuer's key set, cached and re-read) and TokenVerifier with trusted
issuers: the token's iss (for its tid) picks the issuer, and only that issuer's keys may have signed it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from graphtasks.auth.jwks import JwksSource, parse_jwks
from graphtasks.auth.keys import KeyRing, SigningKey
from graphtasks.auth.tokens import KeysOutdated, TokenVerifier, TrustedIssuer, own_issuer
from graphtasks.clouds import CLOUDS
from graphtasks.config import Settings
from graphtasks.errors import Unauthorized
from tests.support import entra
from tests.support.entra import public_jwk

TENANT = "4a7c9e1f-2b3d-4f5a-8c6e-0a1b2c3d4e5f"
OWN_BASE = "https://login.graphtasks.test"
V1 = "https://sts.windows.net/{tenantid}/"
V2 = "https://login.microsoftonline.com/{tenantid}/v2.0"
USGOV_V2 = "https://login.microsoftonline.us"
OTHER_TENANT = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
READER = entra.EntraApp(TENANT, "11111111-2222-3333-4444-555555555555", ("DeviceManagementApps.Read.All",))


@pytest.fixture(scope="module")
def entra_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def own_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_jwks(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"keys": list(entries)}))
    return path


def entra_token(key: rsa.RSAPrivateKey, kid: str, *, version: str = "2.0", **overrides: Any) -> str:
    """A read-only app token of TENANT, shaped as Entra issues it for Graph in the global cloud."""
    return entra.entra_token(key, kid, READER, version=version, **overrides)


def verifier(source: JwksSource, own: rsa.RSAPrivateKey) -> TokenVerifier:
    ring = KeyRing((SigningKey("own-1", own),))
    issuers = (own_issuer(ring, OWN_BASE), TrustedIssuer(V1, source), TrustedIssuer(V2, source))
    return TokenVerifier(issuers, CLOUDS["global"].audiences, 60)


def verify(v: TokenVerifier, token: str) -> Any:
    """What the web guard does: refresh the keys when told to, then judge the token once more."""
    try:
        return v.verify(f"Bearer {token}")
    except KeysOutdated as outdated:
        outdated.refresh()
        return v.verify(f"Bearer {token}", may_refresh=False)


# --- parse_jwks ---


def test_parse_keeps_rsa_signing_keys_only(entra_key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_entry = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())) | {"kid": "ec"}
    document = {
        "keys": [
            public_jwk(entra_key, "rsa-sig", use="sig", x5t="abc"),
            public_jwk(entra_key, "rsa-enc", use="enc"),
            public_jwk(entra_key, "rsa-ps", alg="PS256"),
            ec_entry,
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            "not an object",
        ]
    }
    assert list(parse_jwks(json.dumps(document).encode())) == ["rsa-sig"]


@pytest.mark.parametrize("data", [b"", b"[]", b'{"keys": {}}', b"\xff", b"{", b'{"key": []}'])
def test_parse_refuses_what_is_not_a_key_set(data: bytes) -> None:
    with pytest.raises(ValueError, match="not"):
        parse_jwks(data)


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_parse_raises_only_value_error(data: bytes) -> None:
    try:
        parse_jwks(data)
    except ValueError:
        pass


# --- JwksSource: cache, refresh on unknown kid, rate limit, failures ---


def test_unknown_kid_needs_a_refresh_until_one_was_tried(
    tmp_path: Path, entra_key: rsa.RSAPrivateKey
) -> None:
    source = JwksSource(str(write_jwks(tmp_path / "k.json", public_jwk(entra_key, "a"))), min_interval_s=60)
    assert source.needs_refresh("a")  # never read
    source.refresh()
    assert source.key("a") is not None
    assert not source.needs_refresh("a")
    assert not source.needs_refresh("unknown")  # read a moment ago: rate-limited


def test_rotated_keys_are_picked_up_without_restart(tmp_path: Path, entra_key: rsa.RSAPrivateKey) -> None:
    path = write_jwks(tmp_path / "k.json", public_jwk(entra_key, "old"))
    source = JwksSource(str(path), min_interval_s=0)
    source.refresh()
    write_jwks(path, public_jwk(entra_key, "new"))
    assert source.needs_refresh("new")
    source.refresh()
    assert source.key("new") is not None
    assert source.key("old") is None


def test_refreshes_are_rate_limited(tmp_path: Path, entra_key: rsa.RSAPrivateKey) -> None:
    path = write_jwks(tmp_path / "k.json", public_jwk(entra_key, "old"))
    source = JwksSource(str(path), min_interval_s=3600)
    source.refresh()
    write_jwks(path, public_jwk(entra_key, "new"))
    source.refresh()  # asked again at once: not read
    assert source.key("new") is None


def test_a_failed_read_keeps_the_keys_held(tmp_path: Path, entra_key: rsa.RSAPrivateKey) -> None:
    path = write_jwks(tmp_path / "k.json", public_jwk(entra_key, "a"))
    source = JwksSource(str(path), min_interval_s=0)
    source.refresh()
    path.write_text("<html>maintenance</html>")
    source.refresh()
    assert source.key("a") is not None
    path.unlink()
    source.refresh()
    assert source.key("a") is not None


def test_stale_cache_asks_for_a_refresh(tmp_path: Path, entra_key: rsa.RSAPrivateKey) -> None:
    source = JwksSource(
        str(write_jwks(tmp_path / "k.json", public_jwk(entra_key, "a"))), min_interval_s=0, max_age_s=0
    )
    source.refresh()
    assert source.needs_refresh("a")


def test_an_unreachable_url_is_a_failed_read_not_an_error() -> None:
    source = JwksSource("http://127.0.0.1:9/keys", min_interval_s=0)
    source.refresh()
    assert source.key("a") is None


# --- TokenVerifier with trusted issuers ---


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_entra_tokens_of_both_versions_are_accepted(
    tmp_path: Path, entra_key: rsa.RSAPrivateKey, own_key: rsa.RSAPrivateKey, version: str
) -> None:
    source = JwksSource(str(write_jwks(tmp_path / "k.json", public_jwk(entra_key, "e1"))), min_interval_s=60)
    principal = verify(verifier(source, own_key), entra_token(entra_key, "e1", version=version))
    assert principal.tenant_id == TENANT
    assert principal.client_id == "11111111-2222-3333-4444-555555555555"
    assert principal.permissions == {"DeviceManagementApps.Read.All"}
    assert not principal.delegated


def test_the_first_token_reads_the_key_set(
    tmp_path: Path, entra_key: rsa.RSAPrivateKey, own_key: rsa.RSAPrivateKey
) -> None:
    source = JwksSource(str(write_jwks(tmp_path / "k.json", public_jwk(entra_key, "e1"))), min_interval_s=60)
    v = verifier(source, own_key)
    with pytest.raises(KeysOutdated):
        v.verify(f"Bearer {entra_token(entra_key, 'e1')}")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"iss": V2.replace("{tenantid}", OTHER_TENANT)}, "Invalid issuer.", id="another-tenant"),
        pytest.param({"iss": f"{OWN_BASE}/{TENANT}/v2.0"}, "validation failure.", id="claims-own-issuer"),
        pytest.param({"iss": f"{USGOV_V2}/{TENANT}/v2.0"}, "Invalid issuer.", id="other-cloud-issuer"),
        pytest.param({"aud": "https://graph.microsoft.us"}, "Invalid audience.", id="other-cloud-audience"),
        pytest.param({"aud": "api://someone-else"}, "Invalid audience.", id="app-audience"),
        pytest.param({"exp": int(time.time()) - 600}, "the token is expired.", id="expired"),
    ],
)  # fmt: skip
def test_trusted_issuer_tokens_are_still_judged(
    tmp_path: Path,
    entra_key: rsa.RSAPrivateKey,
    own_key: rsa.RSAPrivateKey,
    overrides: dict[str, Any],
    message: str,
) -> None:
    source = JwksSource(str(write_jwks(tmp_path / "k.json", public_jwk(entra_key, "e1"))), min_interval_s=60)
    with pytest.raises(Unauthorized) as caught:
        verify(verifier(source, own_key), entra_token(entra_key, "e1", **overrides))
    assert caught.value.message.endswith(message)


def test_a_trusted_issuers_token_signed_by_our_key_is_refused(
    tmp_path: Path, entra_key: rsa.RSAPrivateKey, own_key: rsa.RSAPrivateKey
) -> None:
    """Our kid, Entra's iss: Entra's keys must have signed it, and they do not hold that kid."""
    source = JwksSource(str(write_jwks(tmp_path / "k.json", public_jwk(entra_key, "e1"))), min_interval_s=60)
    with pytest.raises(Unauthorized, match=r"^Access token validation failure\.$"):
        verify(verifier(source, own_key), entra_token(own_key, "own-1"))


def test_a_foreign_key_under_a_trusted_kid_is_refused(
    tmp_path: Path, entra_key: rsa.RSAPrivateKey, own_key: rsa.RSAPrivateKey
) -> None:
    source = JwksSource(str(write_jwks(tmp_path / "k.json", public_jwk(entra_key, "e1"))), min_interval_s=60)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized, match=r"^Access token validation failure\.$"):
        verify(verifier(source, own_key), entra_token(forger, "e1"))


def test_an_issuer_for_one_tenant_accepts_only_that_tenant(
    tmp_path: Path, entra_key: rsa.RSAPrivateKey
) -> None:
    source = JwksSource(str(write_jwks(tmp_path / "k.json", public_jwk(entra_key, "e1"))), min_interval_s=60)
    issuer = V2.replace("{tenantid}", TENANT)
    v = TokenVerifier((TrustedIssuer(issuer, source),), CLOUDS["global"].audiences, 60)
    assert verify(v, entra_token(entra_key, "e1")).tenant_id == TENANT
    token = entra_token(entra_key, "e1", tid=OTHER_TENANT, iss=V2.replace("{tenantid}", OTHER_TENANT))
    with pytest.raises(Unauthorized, match="Invalid issuer"):
        verify(v, token)


def test_extra_audiences_are_accepted(tmp_path: Path, entra_key: rsa.RSAPrivateKey) -> None:
    source = JwksSource(str(write_jwks(tmp_path / "k.json", public_jwk(entra_key, "e1"))), min_interval_s=60)
    v = TokenVerifier((TrustedIssuer(V2, source),), ("api://graphtasks",), 60)
    assert verify(v, entra_token(entra_key, "e1", aud="api://graphtasks")).tenant_id == TENANT


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_each_cloud_trusts_its_own_graph_audience(name: str) -> None:
    cloud = CLOUDS[name]
    assert cloud.graph_url in cloud.audiences
    assert all(other.graph_url not in cloud.audiences for other in CLOUDS.values() if other is not cloud)
    assert f"{cloud.graph_url}/.default" in cloud.default_scopes


def test_a_key_set_nested_too_deep_is_a_failed_read(tmp_path: Path, entra_key: rsa.RSAPrivateKey) -> None:
    path = write_jwks(tmp_path / "k.json", public_jwk(entra_key, "a"))
    source = JwksSource(str(path), min_interval_s=0)
    source.refresh()
    path.write_text('{"keys": ' + "[" * 100_000 + "]" * 100_000 + "}")
    source.refresh()
    assert source.key("a") is not None


@pytest.mark.parametrize(
    ("jwks", "allowed"),
    [
        ("https://login.microsoftonline.com/common/discovery/v2.0/keys", True),
        ("http://127.0.0.1:9000/keys", True),
        ("http://localhost/keys", True),
        ("/etc/graphtasks/keys.json", True),
        ("http://idp.contoso.com/keys", False),
    ],
)
def test_a_key_set_over_plain_http_only_from_this_machine(jwks: str, allowed: bool) -> None:
    trusted = (("https://idp.contoso.com/{tenantid}/v2.0", jwks),)
    if allowed:
        Settings(trusted_issuers=trusted)
    else:
        with pytest.raises(ValueError, match="https"):
            Settings(trusted_issuers=trusted)
