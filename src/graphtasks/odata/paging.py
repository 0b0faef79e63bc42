"""Opaque $skiptoken values for keyset paging: the key of the last task a page held.

The token only ever narrows a query that is already scoped to the caller's tenant, so a forged one
can skip rows but never reach another tenant's; one that does not decode is a 400.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from graphtasks.errors import BadRequest


def encode_skiptoken(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).rstrip(b"=").decode()


def decode_skiptoken(token: str) -> str:
    try:
        last_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        uuid.UUID(last_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("The $skiptoken value is not valid.") from None
    return last_id
