"""Throwaway databases: a SQLite file in a temp dir, or a uniquely named PostgreSQL database.

PostgreSQL tests run whenever the server answers; under CI=true an unreachable server is a failure,
never a skip (README, "Quick start").
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

# The maintenance connection used to create and drop test databases.
POSTGRES_ADMIN_URL = os.environ.get(
    "GRAPHTASKS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    yield f"sqlite:///{directory / f'graphtasks-{uuid.uuid4().hex[:8]}.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"graphtasks_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        if in_ci():
            pytest.fail(f"PostgreSQL is required under CI=true but is unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}")
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    maker = postgres_database() if backend == "postgres" else sqlite_database(directory)
    with maker as url:
        yield url
