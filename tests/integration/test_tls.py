"""graphtasks serve --tls: HTTPS with a local CA made once, or with the operator's own certificate."""

from __future__ import annotations

import signal
import ssl
from pathlib import Path

import httpx
import pytest

from graphtasks.tls import local_tls
from tests.support.databases import sqlite_database
from tests.support.server import TASKS_PATH, Server


def test_graph_and_identity_endpoints_are_served_over_https(tls_server: Server) -> None:
    with tls_server.client() as client:
        created = client.post(TASKS_PATH, json={"displayName": "over TLS"})
        assert created.status_code == 201
        assert created.headers["location"].startswith(f"{tls_server.url}/beta/")
    keys = httpx.get(f"{tls_server.url}/common/discovery/v2.0/keys", verify=tls_server.verify)
    assert keys.json()["keys"]


def test_the_local_ca_is_needed_to_trust_it(tls_server: Server) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{tls_server.url}/common/discovery/v2.0/keys")


def test_localhost_is_covered_too(tls_server: Server) -> None:
    url = tls_server.url.replace("127.0.0.1", "localhost")
    assert httpx.get(f"{url}/common/discovery/v2.0/keys", verify=tls_server.verify).status_code == 200


def test_the_ca_is_made_once_and_signs_each_new_server_certificate(tmp_path: Path) -> None:
    first = local_tls(tmp_path, "127.0.0.1")
    ca = first.authority
    assert ca is not None
    ca_before = ca.read_bytes()
    second = local_tls(tmp_path, "graphtasks.test")
    assert second.authority is not None and second.authority.read_bytes() == ca_before
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(second.certificate), str(second.key))  # the key matches the certificate
    assert oct(second.key.stat().st_mode & 0o777) == "0o600"


def test_an_operators_certificate_is_served_as_given(tmp_path: Path) -> None:
    own = local_tls(tmp_path / "own", "127.0.0.1")
    with sqlite_database(tmp_path) as url:
        extra = ("--cert", str(own.certificate), "--key", str(own.key))
        server = Server(url, tmp_path / "server.log", extra_args=extra, ca=own.authority).start()
        try:
            with server.client() as client:
                assert client.get(TASKS_PATH).status_code == 200
        finally:
            server.stop()


def test_stopping_does_not_wait_on_a_clients_idle_tls_connection(tmp_path: Path) -> None:
    """A client's pooled connection never answers the server's close_notify; the server still stops
    promptly and cleanly instead of waiting out the TLS shutdown timeout."""
    own = local_tls(tmp_path / "own", "127.0.0.1")
    with sqlite_database(tmp_path) as url:
        extra = ("--cert", str(own.certificate), "--key", str(own.key))
        server = Server(url, tmp_path / "server.log", extra_args=extra, ca=own.authority).start()
        process = server.process
        assert process is not None
        try:
            with server.client() as client:  # holds its connection open in its pool
                assert client.get(TASKS_PATH).status_code == 200
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=5) == -signal.SIGTERM  # uvicorn re-raises the signal
        finally:
            server.stop()
