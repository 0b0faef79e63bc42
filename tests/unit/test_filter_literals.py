"""Text PostgreSQL cannot store (U+0000, a surrogate) never reaches the database: in a $filter string
literal it is a 400 when the filter is parsed (odata/filter.py), in a request body a
ModelValidationFailure (model/validation.py), on both backends alike. Other odd characters stay
allowed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from graphtasks.errors import BadRequest, ModelValidationFailure
from graphtasks.model.schema import APP_VULNERABILITY_MOBILE_APP, APP_VULNERABILITY_TASK
from graphtasks.model.validation import (
    unstorable_character,
    validate_create,
    validate_entity_create,
    validate_entity_update,
    validate_update,
    validate_update_status,
)
from graphtasks.odata.filter import parse_filter

TASK_TYPE = f"#{APP_VULNERABILITY_TASK.qualified_name}"


@pytest.mark.parametrize(
    ("text", "position", "character"),
    [
        ("displayName eq 'a\x00b'", 15, "U+0000"),
        ("displayName eq '\x00'", 15, "U+0000"),
        ("contains(displayName, '\x00')", 22, "U+0000"),
        ("startswith(tolower(displayName), 'x\x00')", 33, "U+0000"),
        ("endswith(description, '\ud800')", 22, "U+D800"),
        ("id in ('7c4b6a3e-0000-4000-8000-000000000000', '\x00')", 47, "U+0000"),
        ("status eq microsoft.graph.deviceAppManagementTaskStatus'pend\x00ing'", 10, "U+0000"),
        ("isof('microsoft.graph.\x00')", 5, "U+0000"),
        ("mobileApps/any(a: a/displayName eq '\x00')", 35, "U+0000"),
        ("displayName eq 'fine' or displayName eq '\udfff'", 40, "U+DFFF"),
    ],
)
def test_an_unstorable_character_in_a_string_literal_is_a_400(
    text: str, position: int, character: str
) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_filter(text)
    assert raised.value.status == 400
    assert raised.value.code == "BadRequest"
    assert raised.value.message == (
        f"The string literal at position {position} in '{text}' contains the character {character}, "
        "which is not allowed."
    )


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("displayName eq 'tab\there'", "(eq displayName 'tab\there')"),
        ("displayName eq '\x01\x7f'", "(eq displayName '\x01\x7f')"),
        ("displayName eq 'emoji \U0001f600'", "(eq displayName 'emoji \U0001f600')"),
        ("displayName eq 'it''s'", "(eq displayName 'it''s')"),
    ],
)
def test_other_characters_stay_allowed(text: str, tree: str) -> None:
    assert str(parse_filter(text)) == tree


def test_a_nul_outside_a_literal_is_a_syntax_error_as_before() -> None:
    with pytest.raises(BadRequest) as raised:
        parse_filter("displayName\x00 eq 'x'")
    assert raised.value.message.startswith("Syntax error: character '\x00' is not valid at position 11")


@pytest.mark.parametrize(
    ("text", "found"),
    [("", None), ("plain", None), ("a\x00", "U+0000"), ("\ud800x", "U+D800"), ("\U0001f600", None)],
)
def test_unstorable_character(text: str, found: str | None) -> None:
    assert unstorable_character(text) == found


def _create() -> None:
    validate_create({"@odata.type": TASK_TYPE, "displayName": "a\x00b"})


def _update() -> None:
    validate_update({"description": "\x00"}, APP_VULNERABILITY_TASK)


def _status_note() -> None:
    validate_update_status({"status": "active", "note": "done\x00"})


def _child_create() -> None:
    validate_entity_create({"displayName": "\x00"}, APP_VULNERABILITY_MOBILE_APP)


def _child_update() -> None:
    validate_entity_update({"version": "\x00"}, APP_VULNERABILITY_MOBILE_APP)


@pytest.mark.parametrize(
    ("validate", "name"),
    [
        (_create, "displayName"),
        (_update, "description"),
        (_status_note, "note"),
        (_child_create, "displayName"),
        (_child_update, "version"),
    ],
)
def test_a_nul_in_a_body_is_a_model_validation_failure(validate: Callable[[], None], name: str) -> None:
    with pytest.raises(ModelValidationFailure) as raised:
        validate()
    assert (raised.value.status, raised.value.code) == (400, "ModelValidationFailure")
    assert (
        raised.value.message == f"The value of '{name}' contains the character U+0000, which is not allowed."
    )
