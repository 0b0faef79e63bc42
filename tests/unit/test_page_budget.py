"""A page ends once its rendered entities pass the response budget (docs/resilience.md, "Response
size"): the pure parts. PageBudget decides where, PageWriter renders entities in groups and finds the
entity the page ends after, the envelope and $expand members are put together from rendered bytes, and
chunk_rows sizes the statements a page is read in."""

from __future__ import annotations

import uuid

import orjson
import pytest

from graphtasks.model.records import ChildRecord
from graphtasks.model.schema import VULNERABLE_MANAGED_DEVICE
from graphtasks.model.validation import validate_entity_create
from graphtasks.odata.paging import PageBudget
from graphtasks.storage.query import FIRST_CHUNK_ROWS, MAX_CHUNK_ROWS, chunk_rows
from graphtasks.web.serialization import (
    JSON,
    PART_BYTES,
    ExpandedCollection,
    PageWriter,
    collection_json,
    collection_response,
    expanded_json,
    with_members,
)


@pytest.mark.parametrize(
    ("sizes", "max_bytes", "ends_after"),
    [
        pytest.param([10, 10, 10, 10], 25, 2, id="after the entity that passes the budget"),
        pytest.param([10, 15, 10], 25, 2, id="reaching the budget exactly is not passing it"),
        pytest.param([30, 1], 25, 0, id="one entity larger than the budget comes alone"),
        pytest.param([1, 30, 1], 25, 1, id="a large entity after others ends the page with it"),
        pytest.param([5] * 10, 100, None, id="entities within the budget never end the page"),
    ],
)
def test_the_page_ends_after_the_entity_that_passes_the_budget(
    sizes: list[int], max_bytes: int, ends_after: int | None
) -> None:
    budget = PageBudget(max_bytes)
    full = [budget.add(size) for size in sizes]
    assert (full.index(True) if True in full else None) == ends_after


@pytest.mark.parametrize(
    ("sizes", "max_bytes", "room"),
    [
        pytest.param([], 100, None, id="no guess before the first entity"),
        pytest.param([10, 10], 100, 9, id="as many as fit at the average size, and the one that passes"),
        pytest.param([100], 100, 1, id="full to the byte: one more ends it"),
        pytest.param([150], 100, 0, id="past the budget: none"),
        pytest.param([0], 100, 101, id="empty entities count as one byte"),
    ],
)
def test_room_guesses_how_many_more_entities_fit(sizes: list[int], max_bytes: int, room: int | None) -> None:
    budget = PageBudget(max_bytes)
    for size in sizes:
        budget.add(size)
    assert budget.room() == room


@pytest.mark.parametrize(
    ("remaining", "lazy", "wanted", "rows"),
    [
        pytest.param(1001, True, None, 1001, id="a lazy driver reads the whole page in one statement"),
        pytest.param(1001, True, 2, 1001, id="whatever the reader expects"),
        pytest.param(1001, False, None, FIRST_CHUNK_ROWS, id="a first chunk, sizes unknown"),
        pytest.param(1001, False, 3, 4, id="as many as the reader expects, and one"),
        pytest.param(1001, False, 0, 1, id="at least one row"),
        pytest.param(1001, False, 10_000, MAX_CHUNK_ROWS, id="never more than the most a chunk holds"),
        pytest.param(7, False, 100, 7, id="never more than the page has left"),
    ],
)
def test_chunk_rows(remaining: int, lazy: bool, wanted: int | None, rows: int) -> None:
    assert chunk_rows(remaining, lazy=lazy, wanted=wanted) == rows


def device(size: int) -> ChildRecord:
    """A managed device whose rendering (`render`) is `size` bytes."""
    values = validate_entity_create({"displayName": "x" * size}, VULNERABLE_MANAGED_DEVICE)
    return ChildRecord(str(uuid.uuid4()), VULNERABLE_MANAGED_DEVICE, values)


def render(child: ChildRecord) -> JSON:
    return {"n": child.values["displayName"]}


def rendered_size(size: int) -> int:
    """`render`'s JSON of `device(size)`, and the comma after it."""
    return len(b'{"n":""},') + size


def feed(writer: PageWriter[ChildRecord], children: list[ChildRecord]) -> int | None:
    """Hand `children` to `writer` as the store would; the index of the one it ended the page at."""
    for index, child in enumerate(children):
        if writer(child, (child.id,)):
            return index
    return None


@pytest.mark.parametrize("group", [1, 3, 32])
@pytest.mark.parametrize(
    ("sizes", "max_bytes", "kept"),
    [
        pytest.param([10] * 8, 10 * rendered_size(10), 8, id="all fit"),
        pytest.param([10] * 8, 3 * rendered_size(10) - 1, 3, id="the third passes the budget"),
        pytest.param([10, 500, 10, 10], 100, 2, id="a large one ends the page with it"),
        pytest.param([500, 10, 10], 100, 1, id="one larger than the budget comes alone"),
    ],
)
def test_the_writer_keeps_the_entities_up_to_the_one_that_passes_the_budget(
    group: int, sizes: list[int], max_bytes: int, kept: int
) -> None:
    children = [device(size) for size in sizes]
    writer = PageWriter[ChildRecord](render, PageBudget(max_bytes), group=group)
    stopped_at = feed(writer, children)
    next_keys = writer.finish(None if stopped_at is None else (children[stopped_at].id,))
    assert orjson.loads(b"[" + b",".join(writer.bodies) + b"]") == [render(c) for c in children[:kept]]
    assert writer.keys == [(c.id,) for c in children[:kept]]
    assert [entity_id for entity_id, _ in writer.entities] == [c.id for c in children[:kept]]
    # Cut short, the next page starts after the last one kept.
    assert next_keys == (None if kept == len(children) else (children[kept - 1].id,))


def test_a_group_holds_few_large_entities() -> None:
    """Entities wait to be rendered together, but never more than PENDING_BYTES of them: a large one
    is rendered at once, so the store is told at once that the page is full."""
    writer = PageWriter[ChildRecord](render, PageBudget(1000), group=32)
    assert [writer(child, (child.id,)) for child in (device(10), device(10))] == [False, False]
    assert writer.bodies == []
    assert writer(device(200_000), ("k",)) is True
    assert len(orjson.loads(b"[" + b",".join(writer.bodies) + b"]")) == 3
    assert writer.trimmed is False


def test_a_group_read_past_the_end_of_the_page_is_trimmed() -> None:
    children = [device(100) for _ in range(5)]
    writer = PageWriter[ChildRecord](render, PageBudget(2 * rendered_size(100)), group=5)
    assert feed(writer, children) == 4  # the store read the whole group before it was rendered
    assert (writer.trimmed, len(writer.keys)) == (True, 3)
    assert writer.finish((children[4].id,)) == (children[2].id,)


@pytest.mark.parametrize(
    ("count", "next_link"),
    [(None, None), (0, None), (12, "https://host/beta/x?$skiptoken=a.b"), (None, "https://h/?q='a b'")],
)
@pytest.mark.parametrize("bodies", [[], [{"id": "1"}], [{"id": "1"}, {"id": "2", "v": ["é", None]}]])
def test_collection_response_is_the_collection_json_of_the_entities(
    bodies: list[JSON], count: int | None, next_link: str | None
) -> None:
    context = "https://graph.microsoft.com/beta/$metadata#deviceAppManagement/deviceAppManagementTasks"
    response = collection_response(
        [orjson.dumps(body) for body in bodies], context, next_link=next_link, count=count
    )
    rendered = b"".join(response.parts)
    assert rendered == orjson.dumps(collection_json(bodies, context, next_link=next_link, count=count))
    assert response.headers["content-length"] == str(len(rendered))


def test_a_large_collection_response_comes_in_parts_of_about_a_mebibyte() -> None:
    bodies = [orjson.dumps({"id": str(n), "pad": "x" * 1000}) for n in range(3000)]
    response = collection_response(bodies, "https://host/$metadata#x", next_link=None, count=None)
    assert len(response.parts) == 3
    assert all(len(part) < 2 * PART_BYTES for part in response.parts)
    assert [body["id"] for body in orjson.loads(b"".join(response.parts))["value"]] == [
        str(n) for n in range(3000)
    ]


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({}, {"id": "1", "a": [1]}),
        ({"m": [], "m@odata.nextLink": "u"}, {"id": "1", "a": [1], "m": [], "m@odata.nextLink": "u"}),
    ],
)
def test_with_members_adds_members_at_the_end(members: JSON, expected: JSON) -> None:
    spliced = with_members(orjson.dumps({"id": "1", "a": [1]}), members)
    assert list(orjson.loads(spliced).items()) == list(expected.items())


def test_an_expanded_collection_is_followed_by_its_next_link() -> None:
    child = device(1)
    expanded = {
        "managedDevices": ExpandedCollection([child], "https://host/next"),
        "mobileApps": ExpandedCollection([]),
    }
    members = expanded_json(expanded)
    assert list(members) == ["managedDevices", "managedDevices@odata.nextLink", "mobileApps"]
    assert [body["id"] for body in members["managedDevices"]] == [child.id]
    assert (members["managedDevices@odata.nextLink"], members["mobileApps"]) == ("https://host/next", [])


def test_the_writer_guesses_its_room_from_what_it_holds_then_from_what_it_rendered() -> None:
    writer = PageWriter[ChildRecord](render, PageBudget(10_000), group=32)
    assert writer.room() is None
    for child in (device(100), device(100)):
        writer(child, (child.id,))
    assert writer.room() == (10_000 - 600) // 300 + 1  # estimated at 300 bytes each
    writer.finish(None)
    assert writer.room() == (10_000 - 2 * rendered_size(100)) // rendered_size(100) + 1
