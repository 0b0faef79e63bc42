"""The admin API of a running server, for the commands given --url (docs/testing.md, "The admin API").
A server bound to a loopback address answers this machine without a key; elsewhere --admin-key (or
GRAPHTASKS_ADMIN_KEY) is needed: `graphtasks faults key` prints it from the server's database.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from graphtasks.cli.common import CliError, option

ADMIN = "/graphtasks/admin"


def url_options(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    option(
        parser,
        "--url",
        default=None,
        required=required,
        help="a running server's URL, e.g. http://127.0.0.1:8000: work through its admin API",
    )
    option(parser, "--admin-key", default=None, help="the admin key (not needed on a loopback server)")


class AdminClient:
    def __init__(self, url: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._url = url.rstrip("/")
        self._client = httpx.Client(base_url=self._url, headers=headers, timeout=120.0)

    def call(self, method: str, path: str, **options: Any) -> Any:
        with self._sent(method, path, **options) as response:
            response.read()
            return response.json() if response.content else None

    @contextmanager
    def stream(self, method: str, path: str) -> Iterator[httpx.Response]:
        with self._sent(method, path, stream=True) as response:
            yield response

    @contextmanager
    def _sent(
        self, method: str, path: str, *, stream: bool = False, **options: Any
    ) -> Iterator[httpx.Response]:
        request = self._client.build_request(method, ADMIN + path, **options)
        try:
            response = self._client.send(request, stream=stream)
        except httpx.TransportError as error:
            raise CliError(
                f"no graphtasks server answers at {self._url}: {error}", "is it running, and is --url right?"
            ) from None
        try:
            if response.status_code >= 400:
                response.read()
                raise _refusal(response)
            yield response
        finally:
            response.close()

    def close(self) -> None:
        self._client.close()


def _refusal(response: httpx.Response) -> CliError:
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text[:300]
    hint = "give --admin-key (graphtasks faults key prints it)" if response.status_code == 401 else None
    return CliError(f"the server refused: {response.status_code} {message}", hint)


@contextmanager
def admin_client(args: argparse.Namespace) -> Iterator[AdminClient]:
    client = AdminClient(args.url, args.admin_key)
    try:
        yield client
    finally:
        client.close()
