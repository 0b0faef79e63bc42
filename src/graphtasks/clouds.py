"""The Microsoft clouds graphtasks can stand in for (docs/graph-behaviour.md, "National clouds"): each
one's Graph host, which is also the audience of its tokens, and its Entra hosts, which make up the
issuers of its tokens.

Pure data; `--cloud` picks one, and auth/ and web/ read it from Settings.
"""

from __future__ import annotations

from dataclasses import dataclass

# Graph's application id: tokens may carry it as `aud` instead of the Graph URL, in every cloud.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
TENANT_PLACEHOLDER = "{tenantid}"


@dataclass(frozen=True)
class Cloud:
    name: str
    graph_url: str
    login_url: str
    # Issuer of v1.0 tokens is f"{v1_issuer_host}/{tid}/"; of v2.0 tokens f"{v2_issuer_host}/{tid}/v2.0".
    v1_issuer_host: str
    v2_issuer_host: str

    @property
    def audiences(self) -> tuple[str, ...]:
        """The `aud` values of a token for this cloud's Graph. With a trailing slash too: v1.0 tokens
        carry the resource exactly as the client asked for it (an inference; no Entra doc says so)."""
        return (self.graph_url, f"{self.graph_url}/", GRAPH_APP_ID)

    @property
    def default_scopes(self) -> frozenset[str]:
        """The `scope` values a client-credentials request for Graph may use."""
        return frozenset({f"{self.graph_url}/.default", f"{GRAPH_APP_ID}/.default"})

    @property
    def entra_issuers(self) -> tuple[str, str]:
        """The v1.0 and v2.0 issuer templates of Entra in this cloud, {tenantid} standing for the tenant."""
        return (
            f"{self.v1_issuer_host}/{TENANT_PLACEHOLDER}/",
            f"{self.v2_issuer_host}/{TENANT_PLACEHOLDER}/v2.0",
        )

    @property
    def entra_jwks_url(self) -> str:
        return f"{self.login_url}/common/discovery/v2.0/keys"


CLOUDS = {
    cloud.name: cloud
    for cloud in (
        Cloud(
            "global",
            "https://graph.microsoft.com",
            "https://login.microsoftonline.com",
            "https://sts.windows.net",
            "https://login.microsoftonline.com",
        ),
        # US Government L4 (GCC High). Its v1.0 issuer host is known from third-party code only.
        Cloud(
            "usgov",
            "https://graph.microsoft.us",
            "https://login.microsoftonline.us",
            "https://sts.windows.net",
            "https://login.microsoftonline.us",
        ),
        # US Government L5 (DoD): its own Graph host, the L4 sign-in hosts.
        Cloud(
            "dod",
            "https://dod-graph.microsoft.us",
            "https://login.microsoftonline.us",
            "https://sts.windows.net",
            "https://login.microsoftonline.us",
        ),
        # Operated by 21Vianet.
        Cloud(
            "china",
            "https://microsoftgraph.chinacloudapi.cn",
            "https://login.chinacloudapi.cn",
            "https://sts.chinacloudapi.cn",
            "https://login.partner.microsoftonline.cn",
        ),
    )
}


def cloud_named(name: str) -> Cloud:
    try:
        return CLOUDS[name]
    except KeyError:
        raise ValueError(f"unknown cloud {name!r}; use one of {', '.join(CLOUDS)}") from None
