"""Every failure of a command as one line for stderr: our own CliError and ValueError as they are; the
database's, the file system's and the network's translated, with a hint where one exists; anything else
named in a line, with the way to see its traceback.
"""

from __future__ import annotations

import os
import traceback

from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from graphtasks.cli.common import ENV_PREFIX, CliError
from graphtasks.errors import GraphError, Retryable

DEBUG_VARIABLE = f"{ENV_PREFIX}DEBUG"


def failure_line(error: Exception) -> str:
    if os.environ.get(DEBUG_VARIABLE):
        traceback.print_exception(error)
    return _as_cli_error(error).line()


def _as_cli_error(error: Exception) -> CliError:
    if isinstance(error, CliError):
        return error
    if isinstance(error, ArgumentError | NoSuchModuleError):
        return CliError(f"not a database URL: {error}", "use sqlite:///PATH or postgresql://user@host/db")
    if isinstance(error, DBAPIError):
        return _database_error(error)
    if isinstance(error, Retryable):  # a storage outage, told as the server would tell a client
        return CliError(f"the database is unavailable: {error.message}")
    if isinstance(error, GraphError):  # refused as the admin API would refuse it (an import's 409)
        return CliError(f"refused: {error.status} {error.code}: {error.message}")
    if isinstance(error, ValueError):
        return CliError(str(error))
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return CliError(f"{where}{error.strerror or error}")
    return CliError(
        f"unexpected {type(error).__name__}: {error}", f"set {DEBUG_VARIABLE}=1 to see the traceback"
    )


def _database_error(error: DBAPIError) -> CliError:
    first_line = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error).__name__
    if "locked" in first_line or "busy" in first_line:
        return CliError(
            f"the database is locked: {first_line}",
            "a running `graphtasks serve` holds it; try again, or stop the server",
        )
    if "connect" in first_line.lower():
        return CliError(
            f"cannot connect to the database: {first_line}",
            "is the database server running, and is --database (or GRAPHTASKS_DATABASE) right?",
        )
    return CliError(f"database error: {first_line}")
