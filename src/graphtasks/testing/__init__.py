"""graphtasks inside a test suite (docs/testing.md).

    from graphtasks.testing import Graphtasks

    with Graphtasks() as graph:                 # in this process, on a database in memory
        client = graph.graph_client()           # msgraph_beta.GraphServiceClient for graph.tenant_id
        ...
        assert graph.tasks()[0]["displayName"] == "Patch VPN"
        assert graph.requests()[-1]["method"] == "POST"

    with Graphtasks.serve() as graph:           # `graphtasks serve` on a free loopback port
        httpx.get(graph.url + "/deviceAppManagement/deviceAppManagementTasks", headers=...)

A handle speaks for one tenant (`tenant_id`, a fresh GUID unless given) on one server; `new_tenant()`
gives another handle on the same server. Everything a handle does goes through HTTP, the Graph API and
the admin API (web/admin_state.py), so it behaves the same in process and on a port; in process, the
requests never leave the process (httpx transports over the ASGI application).

The pytest plugin (graphtasks/testing/plugin.py) makes a handle per test from one server per session.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from graphtasks.config import MEMORY_DATABASE, Settings
from graphtasks.testing._servers import InProcessServer, ProcessServer, Server

if TYPE_CHECKING:
    from msgraph_beta import GraphServiceClient

__all__ = ["Graphtasks", "GraphtasksError"]

ADMIN = "/graphtasks/admin"


class GraphtasksError(RuntimeError):
    """The server refused an admin request; the message is its Graph error's."""


class Graphtasks:
    """A handle on a graphtasks server for one tenant. `Graphtasks(...)` starts the application in this
    process (keyword arguments are Settings fields, e.g. `throttle="intune"`); `Graphtasks.serve(...)`
    starts `graphtasks serve` (keyword arguments are its flags: `workers=2` is `--workers 2`). Either
    is a context manager that stops its server at the end; the handles `new_tenant()` made share it."""

    def __init__(self, *, tenant_id: str | None = None, **settings: Any) -> None:
        fields = {"database_url": MEMORY_DATABASE, "request_log": False, **settings}
        self._attach(InProcessServer(Settings(**fields)), tenant_id, owner=True)

    @classmethod
    def serve(cls, *, tenant_id: str | None = None, **options: Any) -> Graphtasks:
        """`graphtasks serve` on a free loopback port, `database="memory"` unless given."""
        handle = cls.__new__(cls)
        handle._attach(
            ProcessServer(_serve_arguments({"database": MEMORY_DATABASE, **options})), tenant_id, owner=True
        )
        return handle

    def _on_same_server(self, tenant_id: str) -> Graphtasks:
        """A handle for another tenant that shares this one's server and admin client."""
        handle = type(self).__new__(type(self))
        handle._server, handle._owner, handle._admin = self._server, False, self._admin
        handle.tenant_id, handle._token = tenant_id, None
        return handle

    def _attach(self, server: Server, tenant_id: str | None, *, owner: bool) -> None:
        self._server, self._owner = server, owner
        self.tenant_id = str(uuid.UUID(tenant_id)) if tenant_id else str(uuid.uuid4())
        self._admin = httpx.Client(base_url=server.base_url, transport=server.transport(), timeout=60.0)
        self._token: str | None = None

    # --- where, and who ---

    @property
    def url(self) -> str:
        """The Graph base URL, `/beta` included: what the SDK's adapter and a script's requests use."""
        return self._server.base_url + "/beta"

    def token(
        self,
        *,
        roles: Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        user: str | None = None,
        expires: int = 3600,
    ) -> str:
        """A bearer token for this tenant: an application token with every permission unless `roles`
        names some; a delegated one with `scopes` (and `user`, the signed-in user's name)."""
        body: dict[str, Any] = {"tenant": self.tenant_id, "expiresIn": expires}
        if roles is not None:
            body["roles"] = list(roles)
        if scopes is not None:
            body["scopes"] = list(scopes)
        if user is not None:
            body["user"] = user
        return str(self._call("POST", "/tokens", json=body)["access_token"])

    def _default_token(self) -> str:
        if self._token is None:
            self._token = self.token(expires=86_400)
        return self._token

    def http(self, *, token: str | None = None, **options: Any) -> httpx.Client:
        """An httpx.Client for this tenant: base URL `url` + "/", the token set (`token()` by default).
        Paths are relative: `http().get("deviceAppManagement/deviceAppManagementTasks")`."""
        return httpx.Client(
            base_url=self.url + "/",
            headers={"Authorization": f"Bearer {token or self._default_token()}"},
            transport=self._server.transport(),
            **options,
        )

    def ahttp(self, *, token: str | None = None, **options: Any) -> httpx.AsyncClient:
        """http()'s httpx.AsyncClient; usable from any event loop."""
        return httpx.AsyncClient(
            base_url=self.url + "/",
            headers={"Authorization": f"Bearer {token or self._default_token()}"},
            transport=self._server.async_transport(),
            **options,
        )

    def graph_client(self, *, token: str | None = None) -> GraphServiceClient:
        """The official SDK's GraphServiceClient for this tenant, with its default middleware (retries,
        redirects), no TLS, identity or provider set-up; usable from any event loop."""
        from graphtasks.testing._sdk import graph_client

        http = httpx.AsyncClient(transport=self._server.async_transport(), timeout=60.0)
        return graph_client(self.url, token or self._default_token(), http)

    # --- state ---

    def tasks(self) -> list[dict[str, Any]]:
        """The tenant's stored tasks as Graph JSON, oldest first, each with its navigation collections."""
        return list(self.export()["tasks"])

    def export(self) -> dict[str, Any]:
        """The tenant's export document (docs/testing.md, "The export format")."""
        return dict(self._call("GET", f"/tenants/{self.tenant_id}/export"))

    def load(self, source: str | Path | Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> int:
        """Add tasks: a file (an export, a collection answer or a list of task bodies), or the document
        itself. Ids and createdDateTime are kept when given. How many tasks were added."""
        document = json.loads(Path(source).read_text("utf-8")) if isinstance(source, str | Path) else source
        return int(self._call("POST", f"/tenants/{self.tenant_id}/import", json=document)["imported"])

    def reset(self) -> int:
        """No tasks and an empty journal for this tenant; how many tasks were deleted."""
        return int(self._call("DELETE", f"/tenants/{self.tenant_id}/tasks")["deleted"])

    def requests(self) -> list[dict[str, Any]]:
        """The journal: this tenant's requests, oldest first (docs/testing.md, "The request journal")."""
        return list(self._call("GET", f"/tenants/{self.tenant_id}/requests")["value"])

    def clear_requests(self) -> None:
        self._call("DELETE", f"/tenants/{self.tenant_id}/requests")

    def faults(self, plan: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> None:
        """Fault rules for this tenant alone (a plan `{"seed": ..., "rules": [...]}` or a list of rules,
        docs/resilience.md, "Fault and latency injection"); None removes them."""
        document = {"rules": list(plan)} if isinstance(plan, Sequence) else dict(plan or {"rules": []})
        self._call("PUT", f"/tenants/{self.tenant_id}/faults", json=document)

    def throttle(self, profile: str | None) -> None:
        """A throttling profile for this tenant alone: "intune", "off" or custom numbers as --throttle
        takes them ("window=20,tenant_writes=5,..."); None gives it the server's again."""
        self._call("PUT", f"/tenants/{self.tenant_id}/throttle", json={"profile": profile})

    def new_tenant(self, *, licensed: bool = True, tenant_id: str | None = None) -> Graphtasks:
        """Another tenant on the same server; `licensed=False` makes one without an Intune licence."""
        tenant = str(uuid.UUID(tenant_id)) if tenant_id else str(uuid.uuid4())
        if not licensed or tenant_id is not None:  # a tenant nobody registered is a licensed one
            self._call("POST", "/tenants", json={"tenant": tenant, "licensed": licensed})
        return self._on_same_server(tenant)

    def _call(self, method: str, path: str, **options: Any) -> Any:
        response = self._admin.request(method, ADMIN + path, **options)
        if response.status_code >= 400:
            raise GraphtasksError(f"{method} {path}: {response.status_code} {_message(response)}")
        return response.json() if response.content else None

    # --- life ---

    def close(self) -> None:
        """Stop the server, for the handle that started it; another tenant's handle has nothing to stop."""
        if self._owner:
            self._admin.close()
            self._server.close()

    def __enter__(self) -> Graphtasks:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


def _serve_arguments(options: Mapping[str, Any]) -> list[str]:
    """`workers=2, flush_to_disk=True` -> `--workers 2 --flush-to-disk`."""
    arguments: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            arguments.append(flag)
        elif value is not False and value is not None:
            arguments += [flag, str(value)]
    return arguments
