"""Every CLI failure is one clear line on stderr with a non-zero exit, never a traceback; bad input is
refused at the start with the valid choices; database commands never create a SQLite file. Through the
real `graphtasks` command."""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import httpx
import pytest

from graphtasks.config import Settings
from tests.support.cli import failure_line, graphtasks
from tests.support.server import Server, sqlite_server

UNKNOWN_PERMISSION = "unknown permission 'Foo.Bar'; choose from DeviceManagementApps.Read.All"
NOT_A_GUID = "is not a GUID"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("cli-errors")) as server:
        yield server


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["token", "--roles", "Foo.Bar"], UNKNOWN_PERMISSION, id="token-roles"),
        pytest.param(["token", "--scopes", "Foo.Bar"], UNKNOWN_PERMISSION, id="token-scopes"),
        pytest.param(["token", "--tenant", "3f0c..."], f"'3f0c...' {NOT_A_GUID}", id="token-tenant"),
        pytest.param(["token", "--expires", "soon"], "not a duration: 'soon'", id="token-expires"),
        pytest.param(["apps", "add", "--permission", "Foo.Bar"], UNKNOWN_PERMISSION, id="apps-permission"),
        pytest.param(["apps", "add", "--tenant", "contoso"], f"'contoso' {NOT_A_GUID}", id="apps-tenant"),
        pytest.param(["apps", "remove", "--client-id", "app1"], f"'app1' {NOT_A_GUID}", id="apps-client-id"),
        pytest.param(
            ["apps", "add-certificate", "--client-id", str(uuid.uuid4()), "--certificate", "missing.pem"],
            "cannot read missing.pem: No such file or directory",
            id="apps-certificate",
        ),
        pytest.param(["tenants", "remove", "--tenant", "nonexist"], f"'nonexist' {NOT_A_GUID}", id="tenants"),
        pytest.param(["seed", "--count", "5", "--tenant", "x"], f"'x' {NOT_A_GUID}", id="seed-tenant"),
        pytest.param(
            ["faults", "set", "nope.json"],
            "cannot read nope.json: No such file or directory",
            id="faults-file",
        ),
        pytest.param(
            ["serve", "--faults", "nope.json"],
            "cannot read nope.json: No such file or directory",
            id="serve-faults",
        ),
        pytest.param(
            ["serve", "--trust-entra", "./missing.json"],
            "trusted key set: cannot read ./missing.json: No such file or directory",
            id="trust-entra-file",
        ),
        pytest.param(
            ["serve", "--trust-issuer", "https://sts.example/{tenantid}/", "./missing.json"],
            "trusted key set: cannot read ./missing.json",
            id="trust-issuer-file",
        ),
        pytest.param(["serve", "--log-format", "xml"], "invalid choice: 'xml'", id="log-format"),
        pytest.param(["serve", "--port", "99999"], "the port must be between 0 and 65535", id="port-range"),
        pytest.param(["serve", "--port", "eighty"], "invalid int value: 'eighty'", id="port-type"),
        pytest.param(["serve", "--database", "nope"], "not a database URL", id="database-url"),
        pytest.param(["serve", "--cert", "c.pem", "--key", "k.pem"], "cannot read c.pem", id="tls-files"),
        pytest.param(
            ["token", "--database", "postgresql://postgres@127.0.0.1:1/none"],
            "cannot connect to the database",
            id="postgres-unreachable",
        ),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    line = failure_line(graphtasks(*args, cwd=tmp_path))
    assert expected in line


def test_a_bad_environment_value_is_one_line(tmp_path: Path) -> None:
    line = failure_line(graphtasks("serve", cwd=tmp_path, env={"GRAPHTASKS_QUIET": "maybe"}))
    assert line == "graphtasks: GRAPHTASKS_QUIET='maybe' is not a yes or no (use 1 or 0, true or false)"
    assert "invalid int value: 'x'" in failure_line(
        graphtasks("serve", cwd=tmp_path, env={"GRAPHTASKS_PORT": "x"})
    )


@pytest.mark.parametrize(
    "args",
    [
        ["token"],
        ["apps", "list"],
        ["tenants", "list"],
        ["seed", "--count", "1"],
        ["faults", "key"],
    ],
    ids=lambda args: "-".join(args),
)
def test_database_commands_never_create_a_sqlite_file(tmp_path: Path, args: list[str]) -> None:
    line = failure_line(graphtasks(*args, cwd=tmp_path))
    assert line.startswith(f"graphtasks: no database at {tmp_path.resolve() / 'graphtasks.db'}")
    assert "--database sqlite:///PATH or GRAPHTASKS_DATABASE" in line
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_tenant_is_named(running: Server) -> None:
    tenant = str(uuid.uuid4())
    line = failure_line(
        graphtasks("tenants", "remove", "--tenant", tenant, "--database", running.database_url)
    )
    assert line == f"graphtasks: no tenant {tenant} in the registry (`graphtasks tenants list` shows them)"


def test_a_second_server_on_a_taken_port_is_one_line_and_no_banner(running: Server, tmp_path: Path) -> None:
    result = graphtasks(
        "serve", "--port", str(running.port), "--database", running.database_url, cwd=tmp_path
    )
    line = failure_line(result)
    assert line.startswith(f"graphtasks: 127.0.0.1:{running.port} is already in use")
    assert result.stdout == ""


def test_seed_works_beside_a_running_server(running: Server) -> None:
    tenant = str(uuid.uuid4())
    result = graphtasks("seed", "--count", "25", "--tenant", tenant, "--database", running.database_url)
    assert result.returncode == 0, result.stderr
    with running.client(running.token(tenant=tenant)) as client:
        assert client.get(f"{running.tasks_url}/$count").text == "25"


def test_faults_against_a_tls_port_says_so(tls_server: Server, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"seed": 1, "rules": []}))
    url = tls_server.url.replace("https://", "http://")
    args = ("faults", "set", str(plan), "--url", url, "--database", tls_server.database_url)
    line = failure_line(graphtasks(*args))
    assert line.startswith(f"graphtasks: no HTTP answer from {url}/graphtasks/admin/faults")
    assert line.endswith("(is the server running with --tls? then use --url https://...)")


def test_faults_against_no_server_says_where(running: Server) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"
        line = failure_line(graphtasks("faults", "show", "--url", url, "--database", running.database_url))
    assert line.startswith(f"graphtasks: cannot reach {url}/graphtasks/admin/faults: ")
    assert "is `graphtasks serve` running there?" in line


def test_the_banners_token_command_carries_what_the_token_needs(tmp_path: Path) -> None:
    flags = ("--cloud", "usgov", "--issuer", "https://sts.example.test")
    with sqlite_server(tmp_path, *flags) as server:
        banner = server.log_path.read_text()
        command = re.search(r"^  token      graphtasks token (.+)$", banner, re.MULTILINE)
        assert command is not None, banner
        words = command.group(1).split()
        assert words == ["--database", server.database_url, *flags]
        result = graphtasks("token", *words)
        assert result.returncode == 0, result.stderr
        headers = {"Authorization": f"Bearer {result.stdout.strip()}"}
        assert httpx.get(server.tasks_url, headers=headers).status_code == 200


def test_help_shows_each_default_and_its_environment_variable() -> None:
    text = " ".join(graphtasks("serve", "--help").stdout.split())
    defaults = {field.name: field.default for field in fields(Settings)}
    for flag, setting in [
        ("--max-url-bytes", "max_url_bytes"),
        ("--max-header-bytes", "max_header_bytes"),
        ("--page-size", "page_size"),
        ("--port", "port"),
        ("--log-format", "log_format"),
        ("--database", "database_url"),
    ]:
        variable = "GRAPHTASKS_" + flag[2:].replace("-", "_").upper()
        assert f"[env {variable}] (default: {defaults[setting]})" in text, flag
    assert "[env GRAPHTASKS_QUIET]" in text


def test_a_certificate_that_does_not_load_is_one_line_before_any_banner(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("not a certificate\n")
    (tmp_path / "k.pem").write_text("not a key\n")
    result = graphtasks("serve", "--cert", "c.pem", "--key", "k.pem", "--port", "0", cwd=tmp_path)
    assert failure_line(result).startswith("graphtasks: cannot serve HTTPS with c.pem and k.pem: ")
    assert result.stdout == ""
