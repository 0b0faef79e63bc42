"""Which `iss` the server's own issuers accept: the configured one alone, or the origin the request
reached (loopback names of one port being one server) and `graphtasks token`'s offline issuer."""

from __future__ import annotations

import pytest

from graphtasks.auth.keys import KeyRing
from graphtasks.auth.tokens import own_issuers, same_server
from graphtasks.config import DEFAULT_ISSUER

TENANT = "8f1c7e5a-3b2d-4c6e-9a1f-0d2b4c6e8a10"
OTHER = "9188040d-6c67-4c5b-b112-36a304b66dad"
ORIGIN = "https://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("https://127.0.0.1:8000", "https://127.0.0.1:8000", True),
        ("https://localhost:8000", "https://127.0.0.1:8000", True),
        ("https://[::1]:8000", "https://localhost:8000", True),
        ("https://localhost:8000", "https://127.0.0.1:8001", False),
        ("http://localhost:8000", "https://localhost:8000", False),
        ("https://graphtasks.test:8000", "https://127.0.0.1:8000", False),
        ("https://graphtasks.test", "https://graphtasks.test:443", False),
        ("https://localhost:99999", "https://localhost:8000", False),
        ("https://127.0.0.2:8000", "https://127.0.0.1:8000", False),
    ],
)
def test_same_server(first: str, second: str, same: bool) -> None:
    assert same_server(first, second) is same
    assert same_server(second, first) is same


def accepted(configured: str | None, iss: str, origin: str = ORIGIN) -> bool:
    return any(issuer.matches(iss, TENANT, origin) for issuer in own_issuers(KeyRing(()), configured))


@pytest.mark.parametrize(
    ("configured", "iss", "ok"),
    [
        (None, f"{ORIGIN}/{TENANT}/v2.0", True),
        (None, f"https://localhost:8000/{TENANT}/v2.0", True),
        (None, f"{DEFAULT_ISSUER}/{TENANT}/v2.0", True),
        (None, f"{ORIGIN}/{OTHER}/v2.0", False),
        (None, f"{ORIGIN}/{TENANT}/v2.0/", False),
        (None, f"{ORIGIN}/{TENANT}/", False),
        (None, f"https://evil.example/{TENANT}/v2.0", False),
        (None, f"{ORIGIN}/x/{TENANT}/v2.0", False),
        (None, f"/{TENANT}/v2.0", False),
        ("https://sts.example", f"https://sts.example/{TENANT}/v2.0", True),
        ("https://sts.example", f"{ORIGIN}/{TENANT}/v2.0", False),
        ("https://sts.example", f"{DEFAULT_ISSUER}/{TENANT}/v2.0", False),
    ],
)
def test_own_issuers(configured: str | None, iss: str, ok: bool) -> None:
    assert accepted(configured, iss) is ok
