"""The official SDK wired to a graphtasks handle: a static bearer token (the SDK's own providers want an
identity platform) and the handle's transport under the SDK's default middleware. Imported only when a
test asks for a client, so that `graphtasks.testing` works without the SDK installed."""

from __future__ import annotations

from typing import Any

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph_beta import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory


class _StaticToken(AccessTokenProvider):
    def __init__(self, token: str) -> None:
        self._token, self._hosts = token, AllowedHostsValidator([])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


def graph_client(url: str, token: str, http: httpx.AsyncClient) -> GraphServiceClient:
    client = GraphClientFactory.create_with_default_middleware(client=http)
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(_StaticToken(token)), client=client)
    # No trailing slash: the SDK joins its paths to the base URL with one of its own.
    adapter.base_url = url
    return GraphServiceClient(request_adapter=adapter)
