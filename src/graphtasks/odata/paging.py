"""Opaque, signed $skiptoken values for keyset paging, and the byte budget that ends a page early.

A token holds the sort-key values of the last row a page returned (orderby keys, then id). It is
HMAC-signed together with its scope: the tenant and a fingerprint of the query (collection, type cast,
$filter, $orderby). A token that was altered, or is replayed by another tenant or with another query,
fails the check and is a 400, so it can never widen what a caller sees.

A page also ends once its entities pass a size (PageBudget; docs/resilience.md, "Response size"): the
row it ended on is just another last row for the token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import TypeAlias

from graphtasks.errors import BadRequest

KeyValue: TypeAlias = str | int | None
_MAC_BYTES = 16


class SkiptokenSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, keys: tuple[KeyValue, ...], *, scope: str) -> str:
        payload = json.dumps(list(keys), separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload, scope))}"

    def decode(self, token: str, *, scope: str) -> tuple[KeyValue, ...]:
        payload_text, _, mac_text = token.partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise _invalid() from None
        if not hmac.compare_digest(mac, self._mac(payload, scope)):
            raise _invalid()
        keys = json.loads(payload)
        if not isinstance(keys, list) or not all(k is None or isinstance(k, str | int) for k in keys):
            raise _invalid()
        return tuple(keys)

    def _mac(self, payload: bytes, scope: str) -> bytes:
        return hmac.new(self._secret, scope.encode() + b"\n" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _invalid() -> BadRequest:
    return BadRequest("The $skiptoken value is not valid for this request.")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    # Only the canonical encoding: another spelling of the same bytes is an altered token.
    if not text or _b64(data) != text:
        raise ValueError("not the canonical base64url encoding")
    return data


class PageBudget:
    """The bytes a page's entities may take. Server-driven paging lets a page hold fewer entities than
    asked for (OData Protocol, "Server-Driven Paging"), so a page ends after the entity whose bytes pass
    `max_bytes`: it holds at most the budget and one entity, and always at least one entity, however
    large."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.taken = 0

    def add(self, size: int, *, count: int = 1) -> bool:
        """Count in `count` entities of `size` bytes in all; True when the page ends after them."""
        self.used += size
        self.taken += count
        return self.used > self.max_bytes

    def remove(self, size: int, *, count: int = 1) -> None:
        """Take back what add counted in."""
        self.used -= size
        self.taken -= count

    def room(self) -> int | None:
        """About how many more entities fit if they are as large as those so far on average (the page
        ends after the one that passes the budget, hence the one more); None before the first."""
        if not self.taken:
            return None
        if self.used > self.max_bytes:
            return 0
        average = max(1, self.used // self.taken)
        return (self.max_bytes - self.used) // average + 1
