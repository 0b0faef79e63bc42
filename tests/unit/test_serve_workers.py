"""`serve --workers`: the Settings hand-off to worker processes (graphtasks/asgi.py) and the flag itself.

No server runs here; tests/integration/test_scaleout.py runs `serve --workers 2` for real.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

import pytest

from graphtasks.asgi import SETTINGS_VARIABLE, app_from_environment, settings_from_json, settings_to_json
from graphtasks.cli import main, serve
from graphtasks.config import Settings

DEFAULTS = Settings()
# Every field away from its default, tuples of tuples included; boolean switches are flipped whatever
# they are called, so a new one needs no edit here.
FLIPPED_SWITCHES: dict[str, Any] = {
    f.name: not getattr(DEFAULTS, f.name) for f in dataclasses.fields(Settings) if f.type in ("bool", bool)
}
CHANGED = dataclasses.replace(
    Settings(
        database_url="postgresql://graphtasks@db.internal:5433/tasks",
        host="0.0.0.0",  # noqa: S104 - a value under test, nothing listens on it
        port=8443,
        base_url="https://graph.example",
        issuer="https://login.example",
        cloud_name="usgov",
        trusted_issuers=(
            ("https://idp.example/{tenantid}/v2.0", "https://idp.example/keys"),
            ("https://other.example/", "/etc/graphtasks/keys.json"),
        ),
        extra_audiences=("api://graphtasks", "api://other"),
        jwks_min_refresh_s=12.5,
        clock_skew_s=0,
        max_body_bytes=2048,
        flush_to_disk=False,
        page_size=7,
        max_url_bytes=4096,
        max_header_bytes=8192,
        header_timeout_s=2.5,
        body_timeout_s=4.5,
        max_connections=50,
        throttle="intune",
        redis_url="redis://127.0.0.1:6379/3",
        workers=3,
        faults_file="/etc/graphtasks/faults.json",
        log_format="json",
        query_timeout_s=1.5,
        tenant_concurrency=Settings().tenant_concurrency + 1,  # the default is the machine's cores
        max_response_bytes=100_000,
        max_batch_response_bytes=200_000,
        allowed_hosts=("graph.example", "localhost"),
        forwarded_allow_ips=("10.0.0.1",),
        journal_size=7,
        licence_cache_s=0.5,
        load_file="/etc/graphtasks/tasks.json",
        load_tenant="3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    ),
    **FLIPPED_SWITCHES,
)


def test_changed_settings_really_change_every_field() -> None:
    fields = dataclasses.fields(Settings)
    assert [f.name for f in fields if getattr(CHANGED, f.name) == getattr(DEFAULTS, f.name)] == []


@pytest.mark.parametrize("settings", [Settings(), CHANGED], ids=["defaults", "changed"])
def test_settings_survive_the_json_hand_off(settings: Settings) -> None:
    rebuilt = settings_from_json(settings_to_json(settings))
    assert rebuilt == settings
    assert isinstance(rebuilt.trusted_issuers, tuple)
    assert all(isinstance(pair, tuple) for pair in rebuilt.trusted_issuers)


def test_the_hand_off_validates_again() -> None:
    text = json.dumps(json.loads(settings_to_json(Settings())) | {"page_size": 5000})
    with pytest.raises(ValueError, match="page size"):
        settings_from_json(text)


def test_a_worker_without_settings_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTINGS_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="--workers"):
        app_from_environment()


def serve_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


@pytest.mark.parametrize(
    ("environment", "argv", "workers"),
    [(None, [], 1), ("3", [], 3), ("3", ["--workers", "2"], 2)],
)
def test_workers_flag_and_environment(
    monkeypatch: pytest.MonkeyPatch, environment: str | None, argv: list[str], workers: int
) -> None:
    if environment is None:
        monkeypatch.delenv("GRAPHTASKS_WORKERS", raising=False)
    else:
        monkeypatch.setenv("GRAPHTASKS_WORKERS", environment)
    assert serve_args(argv).workers == workers


def test_zero_workers_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
