"""canonical_path: what the route table sees of a request path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphtasks.web.routes import canonical_path

TASKS = "/beta/deviceAppManagement/deviceAppManagementTasks"


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        (TASKS, TASKS),
        ("/beta//deviceAppManagement/deviceAppManagementTasks", TASKS),
        (f"{TASKS}/", TASKS),
        (f"{TASKS}//abc///updateStatus/", f"{TASKS}/abc/updateStatus"),
        (f"{TASKS}('abc')", f"{TASKS}/abc"),
        (f"{TASKS}('it''s')/updateStatus", f"{TASKS}/it's/updateStatus"),
        ("/", "/"),
        ("//", "/"),
    ],
)
def test_canonical_path(path: str, canonical: str) -> None:
    assert canonical_path(path) == canonical


@given(
    st.lists(st.text(st.characters(blacklist_characters="/'()"), min_size=1), max_size=6),
    st.lists(st.integers(min_value=1, max_value=3), min_size=7, max_size=7),
)
def test_slashes_never_matter(segments: list[str], widths: list[int]) -> None:
    plain = "/" + "/".join(segments)
    padded = "".join("/" * width + segment for width, segment in zip(widths, segments, strict=False)) + "/"
    assert canonical_path(padded) == canonical_path(plain)
    assert "//" not in canonical_path(padded)
