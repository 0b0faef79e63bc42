"""What the sub-commands share: how an option is declared (its default from Settings or the command, its
GRAPHTASKS_* environment variable, both shown by --help), how a Settings field's flag is declared and
read back from what its config.Flag says, the value checks that refuse bad input at the start, the
--database/--issuer and --cloud options, the backend a command opens, how results are printed (plain
lines or --json), and CliError, the one-line failure every command ends with.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.config import DEFAULT_TENANT, FLAG, MEMORY_DATABASE, Flag, Parse, Settings

if TYPE_CHECKING:
    from graphtasks.app import Backend

ENV_PREFIX = "GRAPHTASKS_"
# Every Settings default, by field name: --help and the options read them here, nowhere else.
SETTING_DEFAULTS: dict[str, Any] = {field.name: field.default for field in fields(Settings)}
# Every Settings field that is a flag, by field name, in the fields' order: how it is given (config.Flag).
SETTING_FLAGS: dict[str, Flag] = {
    field.name: field.metadata[FLAG] for field in fields(Settings) if FLAG in field.metadata
}
_TRUE, _FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


class CliError(Exception):
    """A failure the command reports in one line on stderr, with a hint when one helps."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def line(self) -> str:
        return f"graphtasks: {self}" + (f" ({self.hint})" if self.hint else "")


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default, unless it has none worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, [], argparse.SUPPRESS) and action.option_strings
        return f"{text} (default: %(default)s)" if shown and "%(default)" not in text else text


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line that points at --help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def env_name(flag: str) -> str:
    """`--max-url-bytes` -> GRAPHTASKS_MAX_URL_BYTES."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def option(parser: argparse.ArgumentParser, flag: str, *, setting: str | None = None, **kwargs: Any) -> None:
    """Declare `flag`, read from its environment variable when set; the default comes from Settings'
    field `setting` when given, else from `default`. --help shows both."""
    if setting is not None:
        kwargs.setdefault("default", SETTING_DEFAULTS[setting])
    variable = env_name(flag)
    kwargs["help"] = f"{kwargs.get('help', '')} [env {variable}]"
    value = os.environ.get(variable)
    if value is not None:
        kwargs["default"] = _switch(variable, value) if _is_switch(kwargs) else value
    parser.add_argument(flag, **kwargs)


def _is_switch(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("action") in ("store_true", argparse.BooleanOptionalAction)


def _switch(variable: str, value: str) -> bool:
    if value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise CliError(f"{variable}={value!r} is not a yes or no", "use 1 or 0, true or false")


def guid(text: str) -> str:
    """A tenant or client id: a GUID, as Entra writes them (lower case here)."""
    try:
        value = uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a GUID (tenant and client ids look like {DEFAULT_TENANT})"
        ) from None
    if str(value) != text.lower():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a GUID in its 8-4-4-4-12 form, e.g. {DEFAULT_TENANT}"
        )
    return str(value)


def permissions(text: str) -> str:
    """Permission names (one, or several split on commas and spaces), each one graphtasks knows."""
    unknown = [name for name in text.replace(",", " ").split() if name not in ALL_PERMISSIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown permission {unknown[0]!r}; choose from {', '.join(ALL_PERMISSIONS)}"
        )
    return text


def comma_list(text: str) -> tuple[str, ...]:
    """`a, b,c` -> ("a", "b", "c"), empty items dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def readable_file(text: str) -> str:
    """A file that exists and can be read now, not at the first request that needs it."""
    path = Path(text)
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {error.strerror or error}") from None
    return text


# Each Flag.parse in argparse's terms.
_PARSE: dict[Parse, dict[str, Any]] = {
    "text": {},
    "int": {"type": int},
    "float": {"type": float},
    "switch": {"action": "store_true"},
    "on-off": {"action": argparse.BooleanOptionalAction},
    "list": {"type": comma_list},
    "repeat": {"action": "append"},
    "file": {"type": readable_file},
    "guid": {"type": guid},
}


def setting_flag(name: str) -> str:
    """The flag of Settings' field `name`: its Flag's name, else the field's name in kebab case."""
    return SETTING_FLAGS[name].name or "--" + name.replace("_", "-")


def setting_option(parser: argparse.ArgumentParser, name: str) -> None:
    """Declare the flag of Settings' field `name` as its Flag describes it, with the field's default."""
    described = SETTING_FLAGS[name]
    kwargs = {**_PARSE[described.parse], "help": described.help}
    if described.choices:
        kwargs["choices"] = described.choices
    if described.parse == "repeat":  # no environment variable: one could not hold several values
        parser.add_argument(setting_flag(name), default=[], **kwargs)
    else:
        option(parser, setting_flag(name), setting=name, **kwargs)


def setting_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """Settings' keyword arguments from the parsed flags: one per field that has a flag."""
    return {name: _setting_value(args, name) for name in SETTING_FLAGS}


def _setting_value(args: argparse.Namespace, name: str) -> object:
    value = getattr(args, setting_flag(name).lstrip("-").replace("-", "_"))  # argparse's dest
    return tuple(value) if SETTING_FLAGS[name].parse == "repeat" else value


def database_options(parser: argparse.ArgumentParser) -> None:
    setting_option(parser, "database_url")
    setting_option(parser, "issuer")


def cloud_option(parser: argparse.ArgumentParser) -> None:
    setting_option(parser, "cloud_name")


@contextmanager
def opened_backend(args: argparse.Namespace) -> Iterator[Backend]:
    """The database of --database, migrated, with its keys and stores; closed when the command ends.
    A SQLite file must exist already: only `serve` makes one, so that a command run in the wrong
    directory cannot sign with a new database's new key."""
    from graphtasks.app import open_backend

    refuse_missing_sqlite_file(args.database)
    backend = open_backend(Settings(database_url=args.database, issuer=args.issuer))
    try:
        yield backend
    finally:
        backend.database.dispose()


def refuse_missing_sqlite_file(database_url: str) -> None:
    from sqlalchemy.engine import make_url

    if database_url == MEMORY_DATABASE:
        raise CliError(
            "a memory database belongs to the server process that holds it",
            "reach that server instead, with --url http://HOST:PORT",
        )
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database).resolve()
    if not path.exists():
        raise CliError(
            f"no database at {path}",
            "`graphtasks serve` creates it; point this command at the server's with --database "
            f"sqlite:///PATH or {env_name('--database')}",
        )


def print_result(args: argparse.Namespace, value: Any) -> None:
    """JSON under --json; otherwise one `name  value` line per field (the secret is shown once)."""
    if args.json:
        print(json.dumps(value, indent=2))
        return
    for item in value if isinstance(value, list) else [value]:
        for name, field in item.items():
            print(f"{name:<14} {' '.join(field) if isinstance(field, list) else field}")
        print()
