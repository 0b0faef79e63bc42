"""graphtasks.web.etags: an entity's weak ETag follows its whole state, and If-Match / If-None-Match
compare against it (`*`, lists, with or without `W/`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphtasks.errors import PreconditionFailed
from graphtasks.model.documents import etag_of
from graphtasks.model.records import ChildRecord, TaskRecord
from graphtasks.model.schema import (
    DEVICE_APP_MANAGEMENT_TASK,
    SECURITY_CONFIGURATION_TASK,
    VULNERABLE_MANAGED_DEVICE,
)
from graphtasks.model.validation import defaults_for
from graphtasks.web.etags import if_match, not_modified
from graphtasks.web.requests import GraphRequest

TASK = TaskRecord(
    "t1", DEVICE_APP_MANAGEMENT_TASK, {**defaults_for(DEVICE_APP_MANAGEMENT_TASK), "createdDateTime": 0}
)


def request(**headers: str) -> GraphRequest:
    raw = [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    scope = {"type": "http", "method": "GET", "path": "/", "headers": raw, "query_string": b""}
    return GraphRequest(scope, _no_body)


async def _no_body() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_the_etag_is_weak_and_stable() -> None:
    assert etag_of(TASK).startswith('W/"')
    assert etag_of(TASK) == etag_of(TaskRecord(TASK.id, TASK.type, dict(TASK.values)))


@pytest.mark.parametrize(
    "changed",
    [
        TaskRecord("t2", TASK.type, TASK.values),
        TaskRecord(TASK.id, SECURITY_CONFIGURATION_TASK, TASK.values),
        TaskRecord(TASK.id, TASK.type, {**TASK.values, "displayName": "x"}),
        TaskRecord(TASK.id, TASK.type, {**TASK.values, "createdDateTime": 1}),
        TaskRecord(TASK.id, TASK.type, TASK.values, status_note="a note"),
    ],
)
def test_any_change_changes_the_etag(changed: TaskRecord) -> None:
    assert etag_of(changed) != etag_of(TASK)


def test_children_have_etags_too() -> None:
    child = ChildRecord("c1", VULNERABLE_MANAGED_DEVICE, {"displayName": "pc", "managedDeviceId": None})
    assert etag_of(child) != etag_of(ChildRecord("c1", VULNERABLE_MANAGED_DEVICE, {"displayName": "mac"}))


@pytest.mark.parametrize(
    "header",
    ["*", "{etag}", "{bare}", '"other", {etag}', '  {etag} ,"x"', 'W/"x", *'],
)
def test_if_match_passes_for_the_current_etag(header: str) -> None:
    etag = etag_of(TASK)
    check = if_match(request(if_match=header.format(etag=etag, bare=etag.removeprefix("W/"))))
    assert check is not None
    check(TASK)


@pytest.mark.parametrize("header", ['W/"stale"', '"stale"', "", "W/*"])
def test_if_match_refuses_anything_else(header: str) -> None:
    check = if_match(request(if_match=header))
    assert check is not None
    with pytest.raises(PreconditionFailed) as caught:
        check(TASK)
    assert caught.value.status == 412


def test_without_if_match_there_is_no_precondition() -> None:
    assert if_match(request()) is None


def test_if_none_match() -> None:
    etag = etag_of(TASK)
    assert not_modified(request(if_none_match=etag), etag)
    assert not_modified(request(if_none_match="*"), etag)
    assert not not_modified(request(if_none_match='W/"old"'), etag)
    assert not not_modified(request(), etag)


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_any_header_either_matches_or_is_412(header: str) -> None:
    check = if_match(request(if_match=header))
    assert check is not None
    try:
        check(TASK)
    except PreconditionFailed:
        pass
